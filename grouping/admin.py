"""Django admin for grouping (superusers). The survey is edited here as well as on its page;
suggestions, matches, runs and recommendations are records, shown read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from grouping.models import (
    GroupSuggestion,
    MemberRecommendation,
    NeedsSurvey,
    RecommendationRun,
    SuggestedMember,
    SurveyQuestion,
    SurveyResponse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class QuestionInline(admin.StackedInline):
    model = SurveyQuestion
    extra = 0
    fields = ["position", "key", "kind", "text", "required", "choices"]


@admin.register(NeedsSurvey)
class NeedsSurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "community", "is_open", "min_members", "created_at"]
    list_filter = ["is_open"]
    inlines = [QuestionInline]


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(admin.ModelAdmin):
    list_display = ["text", "survey", "key", "kind", "position", "required"]
    list_filter = ["kind"]
    raw_id_fields = ["survey"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["member", "survey", "source", "submitted_at", "updated_at"]
    list_filter = ["source", "survey__community"]
    search_fields = ["member__display_name"]
    raw_id_fields = ["survey", "member"]


@admin.register(GroupSuggestion)
class GroupSuggestionAdmin(ReadOnlyAdmin):
    """A suggestion matches hundreds or thousands of members: the change page counts them and
    links to their list (filtered to this suggestion, paged, searchable) instead of listing
    them all inline."""

    list_display = ["proposed_name", "community", "topic", "status", "interested", "willing_admins", "score", "group"]
    list_filter = ["status", "community"]
    raw_id_fields = ["survey", "parent", "group", "decided_by"]
    readonly_fields = ["matched_members"]

    @admin.display(description=_("matched members"))
    def matched_members(self, obj: GroupSuggestion) -> str:
        if obj.pk is None:
            return "-"
        counts = obj.matches.aggregate(total=Count("pk"), admins=Count("pk", filter=Q(willing_admin=True)))
        url = reverse("admin:grouping_suggestedmember_changelist") + f"?suggestion__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("%(total)d matched, %(admins)d willing to be admins: see the list") % counts,
        )


@admin.register(SuggestedMember)
class SuggestedMemberAdmin(ReadOnlyAdmin):
    list_display = ["member", "suggestion", "reason", "willing_admin", "score", "invitation"]
    list_filter = ["reason", "willing_admin"]
    list_select_related = ["member", "suggestion", "invitation"]
    search_fields = ["member__display_name"]
    raw_id_fields = ["suggestion", "member", "invitation"]


@admin.register(RecommendationRun)
class RecommendationRunAdmin(ReadOnlyAdmin):
    list_display = ["community", "trained_at", "status", "n_members", "n_labelled", "n_train", "n_test", "n_labels"]
    list_filter = ["status", "community"]
    date_hierarchy = "trained_at"


@admin.register(MemberRecommendation)
class MemberRecommendationAdmin(ReadOnlyAdmin):
    list_display = ["member", "group", "rank", "score", "run"]
    list_filter = ["rank"]
    raw_id_fields = ["run", "member", "group"]
