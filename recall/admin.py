"""Django admin for recall (superusers). Policies, stages and coupon pools are edited here as
well as in the dashboard; attempts, cycles and surveys are records, shown read-only."""

from __future__ import annotations

from django.contrib import admin

from recall.models import (
    Coupon,
    CouponPool,
    ExitSurvey,
    Notice,
    OptOut,
    RecallAttempt,
    RecallCycle,
    RecallPolicy,
    RecallStage,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StageInline(admin.TabularInline):
    model = RecallStage
    extra = 0
    fields = ["position", "name", "days_silent", "channel", "gift_kind", "gift_points", "coupon_pool", "wait_days"]
    raw_id_fields = ["coupon_pool"]


@admin.register(RecallPolicy)
class RecallPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "is_active", "monthly_cap", "quiet_start", "quiet_end"]
    list_filter = ["is_active", "community"]
    inlines = [StageInline]


@admin.register(RecallStage)
class RecallStageAdmin(admin.ModelAdmin):
    list_display = ["name", "policy", "position", "days_silent", "channel", "gift_kind", "wait_days"]
    list_filter = ["channel", "policy__community"]
    raw_id_fields = ["policy", "coupon_pool"]


@admin.register(CouponPool)
class CouponPoolAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "value", "created_at"]
    list_filter = ["community"]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ["code", "pool", "handed_out_at", "attempt"]
    list_filter = ["pool"]
    search_fields = ["code"]
    raw_id_fields = ["pool", "attempt"]
    readonly_fields = ["attempt", "handed_out_at"]  # handing out is the engine's job, and final


@admin.register(RecallCycle)
class RecallCycleAdmin(ReadOnlyAdmin):
    list_display = ["member", "policy", "silent_since", "status", "last_position", "started_at", "ended_at"]
    list_filter = ["status", "community"]
    raw_id_fields = ["member", "policy"]


@admin.register(RecallAttempt)
class RecallAttemptAdmin(ReadOnlyAdmin):
    list_display = ["member", "stage", "channel", "variant", "status", "sent_at", "delivered_at", "recovered_at"]
    list_filter = ["status", "channel", "variant", "community"]
    raw_id_fields = ["member", "stage", "cycle", "policy", "message", "group", "called_by"]
    date_hierarchy = "scheduled_at"


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["title", "member", "created_at", "read_at"]
    raw_id_fields = ["member", "attempt"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["member", "community", "source", "at"]
    list_filter = ["source", "community"]
    raw_id_fields = ["member"]


@admin.register(ExitSurvey)
class ExitSurveyAdmin(ReadOnlyAdmin):
    list_display = ["member", "group", "left_at", "answered_at"]
    list_filter = ["community"]
    raw_id_fields = ["member", "membership", "group", "message"]
