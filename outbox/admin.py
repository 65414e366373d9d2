from django.contrib import admin

from outbox.models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "community", "group", "recipient_name", "status", "attempts")
    list_filter = ("kind", "status", "recipient_platform")
    search_fields = ("body", "recipient_name", "recipient_external_id", "dedupe_key")
    list_select_related = ("community", "community__hub", "group")
    raw_id_fields = ("group",)
