from django.contrib import admin

from core.models import IdempotentRequest


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(admin.ModelAdmin):
    """Read-only: what a retried request with an Idempotency-Key is answered with."""

    list_display = ("created_at", "method", "path", "key", "status_code", "completed_at")
    list_filter = ("method", "status_code")
    search_fields = ("key", "path")
    readonly_fields = [field.name for field in IdempotentRequest._meta.fields if field.name != "body"]
    exclude = ("body",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
