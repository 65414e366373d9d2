"""The grouping API: the needs survey (read by anyone who sees the community, edited with
manage-tree on the hub), answers from bots, the pivot, suggestions and accepting them, a
member's recommended sub-groups, and retraining. Scoped like the pages: community-wide figures
need a role on the hub; a member's recommendations need a role over one of their groups."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from grouping import selectors
from grouping.models import (
    GroupSuggestion,
    MatchReason,
    NeedsSurvey,
    QuestionKind,
    RecommendationRun,
    ResponseSource,
    RunStatus,
    SuggestionStatus,
)
from grouping.services import suggestions as suggesting
from grouping.services.surveys import response_submit, survey_for, survey_update
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, groups_where
from members.selectors import member_named
from subgroups.access import Capability
from subgroups.models import Community, Group, Platform

ID_PATTERN = r"[0-9]{1,18}"


def _community(request: Request, pk: int) -> Community:
    """A community the user sees some group of; 404 otherwise."""
    community = get_object_or_404(Community.objects.select_related("hub"), pk=pk)
    if not groups_where(request.user, Capability.VIEW).filter(community=community).exists():
        raise Http404
    return community


def _require_hub(request: Request, community: Community) -> None:
    if not selectors.hub_visible(request.user, community):
        raise PermissionDenied()


def _require_manage(request: Request, community: Community) -> None:
    if not selectors.manages_tree(request.user, community):
        raise PermissionDenied()


# --- The survey ---------------------------------------------------------------------------------


class SurveyChoiceSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=50, required=False, help_text="Stored in answers; leave out to add one.")
    label = serializers.CharField(max_length=50)


class SurveyQuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    position = serializers.IntegerField()
    text = serializers.CharField()
    kind = serializers.ChoiceField(choices=QuestionKind.choices)
    required = serializers.BooleanField()
    choices = SurveyChoiceSerializer(many=True)


class SurveySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    community = serializers.IntegerField(source="community_id")
    title = serializers.CharField()
    intro = serializers.CharField()
    is_open = serializers.BooleanField()
    min_members = serializers.IntegerField(help_text="Members a topic needs before it is suggested.")
    questions = SurveyQuestionSerializer(many=True)
    responses = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)


class SurveyQuestionChangeSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=40)
    text = serializers.CharField(max_length=300, required=False)
    choices = SurveyChoiceSerializer(many=True, required=False, help_text="The full list: renamed, kept, added.")


class SurveyChangeSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    intro = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    is_open = serializers.BooleanField(required=False)
    min_members = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    questions = SurveyQuestionChangeSerializer(many=True, required=False)


def _survey_data(survey: NeedsSurvey) -> dict:
    stats = selectors.survey_stats(survey)
    data = {name: getattr(survey, name) for name in ("id", "community_id", "title", "intro", "is_open", "min_members")}
    data["questions"] = list(survey.questions.all())
    return SurveySerializer({**data, "responses": stats["responses"], "response_rate": stats["response_rate"]}).data


class SurveyView(APIView):
    @extend_schema(
        summary="The community's needs survey",
        description="Its four questions (topics, size, frequency, admin) with their choices, and how many answered. "
        "Made with the defaults on first use.",
        responses={200: SurveySerializer},
    )
    def get(self, request: Request, community: int) -> Response:
        found = _community(request, community)
        return Response(_survey_data(survey_for(community=found)))

    @extend_schema(
        summary="Change the needs survey",
        description="Needs manage-tree on the hub. Give only what changes. A question's `choices` is its full list: "
        "a choice keeps its `value` when renamed, one without a value is added, and a choice members chose "
        "cannot be removed.",
        request=SurveyChangeSerializer,
        responses={200: SurveySerializer},
    )
    def put(self, request: Request, community: int) -> Response:
        found = _community(request, community)
        _require_manage(request, found)
        values = SurveyChangeSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = dict(values.validated_data)
        if "questions" in data:
            questions = {}
            for item in data.pop("questions"):
                change = {name: item[name] for name in ("text", "choices") if name in item}
                if "choices" in change:
                    change["choices"] = [dict(choice) for choice in change["choices"]]
                questions[item["key"]] = change
            data["questions"] = questions
        survey = survey_update(survey=survey_for(community=found), **data)
        return Response(_survey_data(survey))


class SurveyAnswerSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    member = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="Canopy's id, or:")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    user_id = serializers.CharField(max_length=128, required=False, help_text="The member's id on the platform.")
    answers = serializers.JSONField(
        help_text='By question key, choices by value or label: {"topics": ["摄影"], "size": "50_150", '
        '"frequency": "daily", "admin": "yes"}'
    )


class SurveyResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = serializers.IntegerField(source="member_id")
    answers = serializers.JSONField()
    source = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    created = serializers.BooleanField()


def _manages_member(request: Request, member: Member) -> bool:
    """The bot's user manages content in a group the member is in, or on the hub."""
    if member.community.hub_id is not None and can(request.user, Capability.MANAGE_CONTENT, member.community.hub):
        return True
    groups = groups_where(request.user, Capability.MANAGE_CONTENT)
    return Membership.objects.filter(member=member, group__in=groups, status=MembershipStatus.ACTIVE).exists()


class ResponseView(APIView):
    @extend_schema(
        summary="Record a member's answers (bots)",
        description="For bots that ask the survey in the chat. Needs manage-content on a group the member is in. "
        "Answering again updates the member's answers: 201 the first time, 200 after.",
        request=SurveyAnswerSerializer,
        responses={200: SurveyResponseSerializer, 201: SurveyResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        values = SurveyAnswerSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        community = _community(request, data["community"])
        member = member_named(
            community=community, member=data.get("member"), platform=data.get("platform"), user_id=data.get("user_id")
        )
        if member is None or not _manages_member(request, member):
            raise Http404
        response, created = response_submit(
            survey=survey_for(community=community), member=member, answers=data["answers"], source=ResponseSource.BOT
        )
        response.created = created
        return Response(
            SurveyResponseSerializer(response).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


# --- The pivot ----------------------------------------------------------------------------------


class NeedsPivotRowSerializer(serializers.Serializer):
    topic = serializers.CharField()
    counts = serializers.ListField(child=serializers.IntegerField())


class NeedsPivotTableSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="size, frequency or admin")
    question = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField(), help_text="The last one is the margin, ∑.")
    rows = NeedsPivotRowSerializer(many=True)


class DemandTopicSerializer(serializers.Serializer):
    topic = serializers.CharField()
    label = serializers.CharField()
    asked = serializers.IntegerField()
    interested = serializers.IntegerField(help_text="Asked, and not yet in a group on the topic.")
    willing_admins = serializers.IntegerField()
    recommended = serializers.IntegerField()
    free_seats = serializers.IntegerField(help_text="In the open groups already on the topic.")
    groups = serializers.ListField(child=serializers.IntegerField())
    preferred_size = serializers.CharField()
    preferred_frequency = serializers.CharField()
    state = serializers.CharField(help_text="suggested, covered, few_members, no_admin or dismissed")


class NeedsPivotSerializer(serializers.Serializer):
    responses = serializers.IntegerField()
    members = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    tables = NeedsPivotTableSerializer(many=True)
    topics = DemandTopicSerializer(many=True)


class PivotView(APIView):
    @extend_schema(
        summary="The needs survey's pivot tables and demand per topic",
        description="Topic × size, × frequency and × willing to be an admin (distinct members, with margins), and "
        "each topic's demand cluster. Needs a role on the hub.",
        responses={200: NeedsPivotSerializer},
    )
    def get(self, request: Request, community: int) -> Response:
        found = _community(request, community)
        _require_hub(request, found)
        survey = survey_for(community=found)
        stats = selectors.survey_stats(survey)
        topics = [
            {
                "topic": cluster.topic,
                "label": cluster.label,
                "asked": cluster.asked,
                "interested": cluster.interested,
                "willing_admins": cluster.willing_admins,
                "recommended": len(cluster.recommended),
                "free_seats": cluster.free_seats,
                "groups": [group.pk for group, _seats in cluster.groups],
                "preferred_size": cluster.preferred_size,
                "preferred_frequency": cluster.preferred_frequency,
                "state": cluster.state,
            }
            for cluster in selectors.demand_clusters(survey)
        ]
        tables = [
            {**table, "rows": [{"topic": topic, "counts": counts} for topic, counts in table["rows"]]}
            for table in selectors.pivots(survey)
        ]
        return Response(
            NeedsPivotSerializer(
                {
                    "responses": stats["responses"],
                    "members": stats["members"],
                    "response_rate": stats["response_rate"],
                    "tables": tables,
                    "topics": topics,
                }
            ).data
        )


# --- Suggestions --------------------------------------------------------------------------------


class SuggestedMemberSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member_id")
    name = serializers.CharField(source="member.display_name")
    reason = serializers.ChoiceField(choices=MatchReason.choices)
    willing_admin = serializers.BooleanField()
    score = serializers.FloatField(allow_null=True)
    invitation = serializers.IntegerField(source="invitation_id", allow_null=True)


class GroupSuggestionSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=SuggestionStatus.choices, read_only=True)
    matches = serializers.SerializerMethodField()

    class Meta:
        model = GroupSuggestion
        fields = [
            "id", "community", "topic", "attribute", "parent", "proposed_name", "capacity", "preferred_size",
            "preferred_frequency", "interested", "recommended", "willing_admins", "score", "status", "group",
            "invited_count", "decided_at", "created_at", "updated_at", "matches",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(SuggestedMemberSerializer(many=True))
    def get_matches(self, suggestion: GroupSuggestion) -> list[dict]:
        rows = suggestion.matches.select_related("member").order_by("-willing_admin", "reason", "pk")
        return SuggestedMemberSerializer(rows, many=True).data


class SuggestionAcceptSerializer(serializers.Serializer):
    parent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Another parent group; the suggested one if left out.",
    )


class SuggestionFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=SuggestionStatus.choices)

    class Meta:
        model = GroupSuggestion
        fields = ["community", "status"]


@extend_schema_view(
    list=extend_schema(summary="Sub-group suggestions from the needs survey", description="Needs a role on the hub."),
    retrieve=extend_schema(summary="A sub-group suggestion with its matched members"),
)
class GroupSuggestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = GroupSuggestionSerializer
    queryset = GroupSuggestion.objects.none()
    filterset_class = SuggestionFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[GroupSuggestion]:
        hubs = groups_where(self.request.user, Capability.VIEW).filter(parent__isnull=True)
        return GroupSuggestion.objects.filter(community__hub__in=hubs).order_by("-created_at", "-pk")

    @extend_schema(
        summary="Accept: create the sub-group and invite its members",
        description="Needs manage-tree on the hub. 201 with the group created and the invitations queued; 200 when "
        "it was already accepted (once, however often or however many at once).",
        request=SuggestionAcceptSerializer,
        responses={200: GroupSuggestionSerializer, 201: GroupSuggestionSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        suggestion = self.get_object()
        _require_manage(request, suggestion.community)
        values = SuggestionAcceptSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        parent = None
        if values.validated_data.get("parent"):
            parent = Group.objects.filter(community=suggestion.community, pk=values.validated_data["parent"]).first()
            if parent is None:
                raise ApplicationError(_("Choose a group of this community."), field="parent")
        suggestion, created = suggesting.suggestion_accept(suggestion=suggestion, by=request.user, parent=parent)
        return Response(
            GroupSuggestionSerializer(suggestion).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Dismiss: the topic is not suggested again",
        description="Needs manage-tree on the hub.",
        request=None,
        responses={200: GroupSuggestionSerializer},
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str) -> Response:
        suggestion = self.get_object()
        _require_manage(request, suggestion.community)
        suggestion = suggesting.suggestion_dismiss(suggestion=suggestion, by=request.user)
        return Response(GroupSuggestionSerializer(suggestion).data)


# --- Recommendations ----------------------------------------------------------------------------


class RecommendedGroupSerializer(serializers.Serializer):
    group = serializers.IntegerField(source="group_id")
    group_name = serializers.CharField(source="group.name")
    score = serializers.FloatField()
    rank = serializers.IntegerField()


class MemberRecommendationsSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    run = serializers.IntegerField(allow_null=True)
    trained_at = serializers.DateTimeField(allow_null=True)
    recommendations = RecommendedGroupSerializer(many=True)


class MemberRecommendationsView(APIView):
    @extend_schema(
        summary="A member's recommended sub-groups",
        description="The latest trained model's top three interest sub-groups the member is not in, best first. "
        "Needs a role over one of the member's groups (or the hub).",
        responses={200: MemberRecommendationsSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        member = get_object_or_404(Member.objects.select_related("community"), pk=pk)
        if not selectors.visible_members(request.user, member.community).filter(pk=member.pk).exists():
            raise Http404
        run = selectors.latest_run(member.community, ok=True)
        picks = selectors.recommendations_for(run, [member.pk]).get(member.pk, [])
        return Response(
            MemberRecommendationsSerializer(
                {
                    "member": member.pk,
                    "run": run.pk if run else None,
                    "trained_at": run.trained_at if run else None,
                    "recommendations": picks,
                }
            ).data
        )


class RecommendationRunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RunStatus.choices)
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = RecommendationRun
        fields = ["id", "community", "trained_at", "status", "error", "n_members", "n_labelled", "n_train", "n_test",
                  "n_labels", "metrics"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_metrics(self, run: RecommendationRun) -> dict:
        """precision_at_1, hit_rate_at_3, recall_at_3 and the same under baseline (held-out members)."""
        return {key: value for key, value in (run.metrics or {}).items() if key != "holdout"}


class RunView(APIView):
    @extend_schema(
        summary="The recommender's latest run and its quality",
        description="Needs a role on the hub. 404 until it has been trained once.",
        responses={200: RecommendationRunSerializer},
    )
    def get(self, request: Request, community: int) -> Response:
        found = _community(request, community)
        _require_hub(request, found)
        run = selectors.latest_run(found)
        if run is None:
            raise Http404
        return Response(RecommendationRunSerializer(run).data)


class RetrainQueuedSerializer(serializers.Serializer):
    community = serializers.IntegerField()
    queued = serializers.BooleanField()


class RetrainView(APIView):
    @extend_schema(
        summary="Retrain the recommendations now",
        description="Needs manage-tree on the hub. Queues the training and a refresh of the suggestions; the run "
        "appears at GET …/recommendations/.",
        request=None,
        responses={202: RetrainQueuedSerializer},
    )
    def post(self, request: Request, community: int) -> Response:
        found = _community(request, community)
        _require_manage(request, found)
        from grouping.tasks import grouping_refresh

        transaction.on_commit(lambda: grouping_refresh.delay(found.pk), robust=True)
        return Response({"community": found.pk, "queued": True}, status=status.HTTP_202_ACCEPTED)
