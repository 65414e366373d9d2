from django import forms
from django.contrib import admin

from core.errors import ApplicationError
from core.forms import add_application_error
from outbox.models import Integration, OutboundMessage
from outbox.services import clean_webhook, integration_create


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "community", "group", "recipient_name", "status", "attempts")
    list_filter = ("kind", "status", "recipient_platform")
    search_fields = ("body", "recipient_name", "recipient_external_id", "dedupe_key")
    list_select_related = ("community", "community__hub", "group")
    raw_id_fields = ("group",)
    readonly_fields = ("attempts", "last_error", "delivered_at", "delivered_via", "created_at")


class IntegrationForm(forms.ModelForm):
    webhook_url = forms.URLField(assume_scheme="https", required=False, max_length=200)

    class Meta:
        model = Integration
        fields = ["community", "name", "platform", "webhook_url", "is_active"]

    def clean_webhook_url(self):
        try:
            return clean_webhook(self.cleaned_data.get("webhook_url", ""))
        except ApplicationError as error:
            add_application_error(self, error)
            return ""


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """The address is checked like on the integrations page (no private networks in production)."""

    form = IntegrationForm
    list_display = ("name", "community", "platform", "webhook_url", "is_active", "created_at")
    list_filter = ("platform", "is_active")
    search_fields = ("name", "webhook_url")
    list_select_related = ("community", "community__hub")
    readonly_fields = ("secret", "created_at")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        data = form.cleaned_data
        saved = integration_create(
            community=data["community"], name=data["name"], platform=data["platform"], webhook_url=data["webhook_url"]
        )
        if not data["is_active"]:
            type(saved).objects.filter(pk=saved.pk).update(is_active=False)
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()
