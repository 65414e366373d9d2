"""Django admin for engagement (superusers). Rules, levels, rewards and events are edited here
as well as in the dashboard; check-ins and redemptions are records, shown read-only (a
redemption is handed over or cancelled in the dashboard or the API, so the ledger follows)."""

from __future__ import annotations

from django.contrib import admin

from engagement.models import CheckIn, Level, MemberPass, OrganisedEvent, PointsRules, Redemption, RewardItem


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MemberPass)
class MemberPassAdmin(admin.ModelAdmin):
    list_display = ["member", "created_at"]
    search_fields = ["member__display_name"]
    raw_id_fields = ["member"]
    readonly_fields = ["token", "created_at"]


@admin.register(PointsRules)
class PointsRulesAdmin(admin.ModelAdmin):
    list_display = ["community", "check_in", "post", "featured_post", "invite_accepted", "event_organised",
                    "streak_days", "streak_bonus", "updated_at"]  # fmt: skip
    search_fields = ["community__slug", "community__hub__name"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["day", "member", "group", "source", "created_at"]
    list_filter = ["source", "community"]
    search_fields = ["member__display_name", "group__name"]
    date_hierarchy = "day"
    raw_id_fields = ["member", "group"]


@admin.register(Level)
class LevelAdmin(admin.ModelAdmin):
    list_display = ["name", "threshold", "community"]
    list_filter = ["community"]
    search_fields = ["name"]


@admin.register(RewardItem)
class RewardItemAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "cost", "stock", "per_member_limit", "requires_level", "requires_streak",
                    "is_active"]  # fmt: skip
    list_filter = ["is_active", "community"]
    search_fields = ["name", "description"]
    raw_id_fields = ["requires_level"]


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "item", "cost", "status", "fulfilled_at", "cancelled_at", "by"]
    list_filter = ["status", "community"]
    search_fields = ["member__display_name", "item__name"]
    raw_id_fields = ["member", "item", "by"]


@admin.register(OrganisedEvent)
class OrganisedEventAdmin(admin.ModelAdmin):
    """Recorded in the dashboard or the API, which pay the organiser; corrected here."""

    list_display = ["held_on", "title", "group", "organiser", "attendees", "recorded_by"]
    list_filter = ["community"]
    search_fields = ["title", "organiser__display_name", "group__name"]
    raw_id_fields = ["group", "organiser", "recorded_by"]

    def has_add_permission(self, request, obj=None):
        return False
