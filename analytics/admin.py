"""Django admin for analytics (superusers only).

Events are append-only and everything else is derived from them by the metric engine, so
both are read here, not written. Thresholds are the one thing to edit."""

from __future__ import annotations

from django.contrib import admin

from analytics.models import (
    Alert,
    AnalyticsSettings,
    ChurnModel,
    CommunityDay,
    DirtyDay,
    Event,
    GroupDay,
    HealthReport,
    ImportJob,
    MemberDay,
    MemberMetric,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "kind", "community", "group", "member", "occurred_at", "day"]
    list_filter = ["kind", "community"]
    search_fields = ["external_id"]
    list_select_related = ["community__hub", "group", "member"]
    raw_id_fields = ["group", "member"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # counting millions of events on every page is slow

    def has_delete_permission(self, request, obj=None):
        return False  # append-only


@admin.register(MemberDay)
class MemberDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "member", "group", "messages", "replies", "reactions", "visits", "events"]
    list_filter = ["community"]
    list_select_related = ["member", "group"]
    raw_id_fields = ["member", "group"]
    show_full_result_count = False


@admin.register(GroupDay)
class GroupDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "group", "members", "dau_rate", "speaking_rate_week", "messages_per_member", "grade"]
    list_filter = ["community", "grade"]
    list_select_related = ["group"]


@admin.register(CommunityDay)
class CommunityDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "community", "members", "dau_rate", "speaking_rate_month", "quit_rate_month"]
    list_filter = ["community"]


@admin.register(MemberMetric)
class MemberMetricAdmin(ReadOnlyAdmin):
    list_display = ["member", "state", "segment", "churn_probability", "risk_band", "day"]
    list_filter = ["community", "state", "segment", "risk_band"]
    search_fields = ["member__display_name"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]


@admin.register(ChurnModel)
class ChurnModelAdmin(ReadOnlyAdmin):
    list_display = ["community", "day", "members", "horizon_days", "error"]
    list_filter = ["community"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["kind", "subject", "group", "status", "first_day", "last_day"]
    list_filter = ["community", "kind", "status"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "member", "resolved_by"]
    readonly_fields = ["community", "kind", "subject", "group", "member", "detail", "first_day", "last_day"]


@admin.register(HealthReport)
class HealthReportAdmin(ReadOnlyAdmin):
    list_display = ["community", "week_start", "created_at"]
    list_filter = ["community"]


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(admin.ModelAdmin):
    list_display = ["community", "silent_days", "churned_days", "speaking_rate_week_min", "updated_at"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["filename", "community", "kind", "status", "processed_rows", "total_rows", "created_at"]
    list_filter = ["community", "kind", "status"]
    exclude = ["content"]


@admin.register(DirtyDay)
class DirtyDayAdmin(ReadOnlyAdmin):
    list_display = ["community", "day", "seq"]
