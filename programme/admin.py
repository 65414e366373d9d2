"""Django admin for the admin programme (superusers): rounds with their nominations, and the
votes as records."""

from __future__ import annotations

from django.contrib import admin

from programme.models import Nomination, PeerVote, VotingRound


class NominationInline(admin.TabularInline):
    model = Nomination
    extra = 0
    fields = ["member", "online_hours", "appointed_at", "appointed_by"]
    raw_id_fields = ["member", "appointed_by"]


@admin.register(VotingRound)
class VotingRoundAdmin(admin.ModelAdmin):
    list_display = ["group", "month", "status", "opens_at", "closes_at", "threshold_hours", "threshold_recognition"]
    list_filter = ["status", "community"]
    search_fields = ["group__name", "note"]
    raw_id_fields = ["group", "created_by"]
    list_select_related = ["group"]
    inlines = [NominationInline]


@admin.register(Nomination)
class NominationAdmin(admin.ModelAdmin):
    list_display = ["member", "round", "online_hours", "appointed_at"]
    list_filter = ["round__status", "round__community"]
    search_fields = ["member__display_name", "round__group__name"]
    raw_id_fields = ["round", "member", "appointed_by"]
    list_select_related = ["member", "round__group"]


@admin.register(PeerVote)
class PeerVoteAdmin(admin.ModelAdmin):
    list_display = ["voter", "nominee", "approve", "at"]
    list_filter = ["approve", "round__community"]
    search_fields = ["voter__display_name", "nominee__member__display_name", "round__group__name"]
    raw_id_fields = ["round", "nominee", "voter"]
    list_select_related = ["voter", "nominee__member", "nominee__round__group"]
