"""Django admin for fission (superusers). Campaigns are edited here as well as in the dashboard;
referrals and completions are records of what was credited and paid, shown read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from fission.models import Campaign, InviteTaskCompletion, Referral


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "starts_at", "ends_at", "group", "goal_invites", "reward_text", "is_active"]
    list_filter = ["is_active", "community"]
    search_fields = ["name", "reward_text"]
    raw_id_fields = ["group"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["inviter", "invitee", "group", "status", "reason", "campaign", "joined_at"]
    list_filter = ["status", "reason", "community"]
    search_fields = ["inviter__display_name", "invitee__display_name"]
    raw_id_fields = ["inviter", "invitee", "membership", "group", "live_code", "campaign", "matched_member"]
    date_hierarchy = "joined_at"


@admin.register(InviteTaskCompletion)
class InviteTaskCompletionAdmin(ReadOnlyAdmin):
    list_display = ["member", "campaign", "invites", "completed_at"]
    list_filter = ["campaign__community", "campaign"]
    raw_id_fields = ["campaign", "member"]
