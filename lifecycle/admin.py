"""Django admin for lifecycle (superusers). Rules and member dates are edited here as well as in
the dashboard; moves are history, shown read-only."""

from __future__ import annotations

from django.contrib import admin

from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate


@admin.register(LifecycleRule)
class LifecycleRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "from_group", "to_group", "trigger", "keep_previous", "is_active"]
    list_filter = ["is_active", "trigger", "community"]
    search_fields = ["name"]
    raw_id_fields = ["from_group", "to_group", "created_by"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(MemberDate)
class MemberDateAdmin(admin.ModelAdmin):
    list_display = ["member", "label", "date", "community", "updated_at"]
    list_filter = ["label", "community"]
    search_fields = ["member__display_name", "label"]
    raw_id_fields = ["member"]


@admin.register(LifecycleMove)
class LifecycleMoveAdmin(admin.ModelAdmin):
    list_display = ["member", "rule", "from_group", "to_group", "status", "attempts", "at"]
    list_filter = ["status", "community"]
    search_fields = ["member__display_name", "rule__name", "reason"]
    raw_id_fields = ["rule", "member", "from_group", "to_group", "from_membership", "membership", "notice"]
    date_hierarchy = "at"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
