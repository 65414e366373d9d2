from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.forms import add_application_error
from outbox import keys
from outbox.models import Integration, IntegrationKey, OutboundMessage
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
    # The signing secret is shown once, on the bots page or in the API, when made or rotated.
    readonly_fields = ("user", "webhook_disabled_at", "failing_since", "previous_secret_until", "created_at")

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


class IntegrationKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=list(keys.SCOPES.items()), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = IntegrationKey
        fields = ["integration", "name", "scopes", "expires_at", "revoked_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at and not self.instance.pk and expires_at <= timezone.now():
            raise forms.ValidationError(_("Choose an expiry in the future."))
        return expires_at


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin):
    """A key added here is shown once, in the message after saving; only its hash is kept."""

    form = IntegrationKeyForm
    list_display = ("name", "prefix", "integration", "expires_at", "revoked_at", "last_used_at", "created_at")
    list_filter = ("integration__community",)
    search_fields = ("name", "prefix", "integration__name")
    list_select_related = ("integration", "integration__community", "integration__community__hub")
    readonly_fields = ("prefix", "last_used_at", "rotated_from", "created_by", "created_at")
    raw_id_fields = ("integration",)

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "integration") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        data = form.cleaned_data
        issued = keys.key_create(
            integration=data["integration"],
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data.get("expires_at"),
            created_by=request.user,
        )
        obj.pk = issued.key.pk
        obj._state.adding = False
        obj.refresh_from_db()
        messages.warning(request, _("The key, shown this once: %(secret)s") % {"secret": issued.secret})
