"""The admin programme's API: a group's team shape and online hours, voting rounds and bots'
votes, computing a month's assessments, and running the rotation. Scoped like the pages: what a
user may not see answers 404; acting needs manage-members on the group (votes from a bot need
manage-content there, like every other bot write)."""

from __future__ import annotations

import re
from datetime import date

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from members.models import Member, Role
from members.permissions import can, can_change_role, groups_where
from members.services.people import member_by_handle
from programme import selectors, services
from programme.models import Nomination, RoundStatus, VotingRound
from subgroups.access import Capability
from subgroups.models import Group, Platform

ID_PATTERN = r"[0-9]{1,18}"
_MONTH = re.compile(r"(20[0-9]{2})-(0[1-9]|1[0-2])")


def _month(value: str, field: str = "month") -> date:
    match = _MONTH.fullmatch(str(value or "").strip())
    if match is None:
        raise ApplicationError(_("Give the month as YYYY-MM, e.g. 2026-11."), field=field)
    return date(int(match.group(1)), int(match.group(2)), 1)


def _visible_group(request: Request, pk: int) -> Group:
    return get_object_or_404(groups_where(request.user, Capability.VIEW).select_related("community"), pk=pk)


def _require_manage(request: Request, group: Group) -> None:
    if not can(request.user, Capability.MANAGE_MEMBERS, group):
        raise PermissionDenied()


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApplicationError(_("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}, field=name)
    return int(raw)


# --- Team shape and online hours ----------------------------------------------------------------


class ShapeCheckSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=selectors.SHAPE_CHECK_KEYS)
    label = serializers.CharField()
    have = serializers.IntegerField()
    target = serializers.IntegerField()
    low = serializers.IntegerField(help_text="For user admins: the healthy range, 5–15% of members.")
    high = serializers.IntegerField()
    verdict = serializers.ChoiceField(choices=selectors.SHAPE_VERDICTS)
    sentence = serializers.CharField()


class TeamShapeSerializer(serializers.Serializer):
    group = serializers.IntegerField(source="group.pk")
    members = serializers.IntegerField()
    healthy = serializers.BooleanField()
    checks = ShapeCheckSerializer(many=True)


class TeamShapeView(APIView):
    @extend_schema(
        summary="A group's team against the healthy shape",
        description="1 lead (owners covering the group) + 3 core admins + user admins (admins and guides on the "
        "group or below it) for about 10% of its members, fine from 5% to 15%. On the hub: the whole community.",
        responses={200: TeamShapeSerializer, 404: OpenApiResponse(description="No such group.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        group = _visible_group(request, pk)
        return Response(TeamShapeSerializer(selectors.team_shape(group=group)).data)


class HoursRowSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member.pk")
    name = serializers.CharField(source="member.display_name")
    weeks = serializers.ListField(
        child=serializers.IntegerField(), help_text="Online hours in each week, oldest first."
    )
    average = serializers.FloatField()
    is_staff = serializers.BooleanField(help_text="Holds a role on the group, above it or below it.")


class OnlineHoursSerializer(serializers.Serializer):
    weeks = serializers.ListField(child=serializers.DateField(), help_text="The Mondays of the complete weeks.")
    members = HoursRowSerializer(many=True)


class OnlineHoursView(APIView):
    @extend_schema(
        summary="Online hours of a group's members",
        description="Distinct local clock hours with any event in each of the last `weeks` complete ISO weeks, and "
        "their average (weeks without an event count as 0), for the members of the group and its sub-groups who "
        "were seen at all; highest average first.",
        parameters=[
            OpenApiParameter("weeks", int, description="1–12, default 4"),
            OpenApiParameter("limit", int, description="1–1000 members, default 100"),
        ],
        responses={200: OnlineHoursSerializer, 404: OpenApiResponse(description="No such group.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        group = _visible_group(request, pk)
        weeks = _int_param(request, "weeks", 4, 1, 12)
        limit = _int_param(request, "limit", 100, 1, 1000)
        mondays, rows = selectors.weekly_online_hours(group=group, weeks=weeks, limit=limit)
        return Response(OnlineHoursSerializer({"weeks": mondays, "members": rows}).data)


# --- Voting rounds ------------------------------------------------------------------------------


class NomineeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="nomination.pk")
    member = serializers.IntegerField(source="nomination.member_id")
    name = serializers.CharField(source="nomination.member.display_name")
    online_hours = serializers.FloatField(source="nomination.online_hours")
    votes = serializers.IntegerField()
    approvals = serializers.IntegerField()
    recognition = serializers.FloatField(allow_null=True, help_text="Approvals ÷ votes.")
    qualified = serializers.BooleanField()
    appointed_at = serializers.DateTimeField(source="nomination.appointed_at", allow_null=True)


class VotingRoundSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    accepts_votes = serializers.SerializerMethodField()
    nominees = serializers.SerializerMethodField()

    class Meta:
        model = VotingRound
        fields = [
            "id", "community", "group", "group_name", "month", "opens_at", "closes_at", "threshold_hours",
            "threshold_recognition", "min_votes", "status", "note", "accepts_votes", "nominees",
        ]  # fmt: skip
        read_only_fields = fields

    def get_accepts_votes(self, voting_round: VotingRound) -> bool:
        return voting_round.accepts_votes()

    @extend_schema_field(NomineeSerializer(many=True))
    def get_nominees(self, voting_round: VotingRound) -> list[dict]:
        return NomineeSerializer(selectors.round_results(voting_round), many=True).data


class RoundCreateSerializer(serializers.Serializer):
    group = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    month = serializers.CharField(required=False, max_length=7, help_text="YYYY-MM; default this month.")
    days = serializers.IntegerField(min_value=1, max_value=60, default=7, help_text="How long votes are taken.")
    threshold_hours = serializers.FloatField(min_value=0.5, max_value=168, default=15)
    threshold_recognition = serializers.FloatField(min_value=0.01, max_value=1, default=0.8)
    min_votes = serializers.IntegerField(min_value=1, max_value=1000, default=5)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class VoteSerializer(serializers.Serializer):
    voter = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="Canopy's id, or:")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    user_id = serializers.CharField(max_length=128, required=False, help_text="The voter's id on the platform.")
    nominee = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The nominee's member id, or:"
    )
    nominee_user_id = serializers.CharField(
        max_length=128, required=False, help_text="The nominee's id on the same platform."
    )
    approve = serializers.BooleanField(help_text="False: not yet.")


class VoteResultSerializer(serializers.Serializer):
    round = serializers.IntegerField(source="round_id")
    nominee = serializers.IntegerField(source="nominee.member_id")
    voter = serializers.IntegerField(source="voter_id")
    approve = serializers.BooleanField()
    at = serializers.DateTimeField()


class AppointSerializer(serializers.Serializer):
    nominee = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The nominee's member id.")


class RoundFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=RoundStatus.choices)

    class Meta:
        model = VotingRound
        fields = ["community", "group", "status"]


@extend_schema_view(
    list=extend_schema(summary="Voting rounds in the groups you see", description="Newest first, with nominees."),
    retrieve=extend_schema(summary="A voting round with its nominees and their recognition"),
)
class VotingRoundViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = VotingRoundSerializer
    queryset = VotingRound.objects.none()
    filterset_class = RoundFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[VotingRound]:
        return (
            VotingRound.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW))
            .select_related("group")
            .order_by("-opens_at", "-pk")
        )

    @extend_schema(
        summary="Open a voting round",
        description="Nominates the members of the group and its sub-groups whose average online hours over the "
        "last 4 complete weeks reach `threshold_hours` and who hold no role serving the group. One open round per "
        "group. Needs manage-members on the group.",
        request=RoundCreateSerializer,
        responses={201: VotingRoundSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        values = RoundCreateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        group = _visible_group(request, data["group"])
        _require_manage(request, group)
        voting_round = services.round_create(
            group=group,
            month=_month(data["month"]) if data.get("month") else None,
            days=data["days"],
            threshold_hours=data["threshold_hours"],
            threshold_recognition=data["threshold_recognition"],
            min_votes=data["min_votes"],
            note=data["note"],
            by=request.user,
        )
        return Response(VotingRoundSerializer(voting_round).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A member's vote, from a bot",
        description="Name the voter by `voter` (member id) or `platform` + `user_id`, and the nominee by `nominee` "
        "(member id) or `nominee_user_id` on the same platform. Voters are active members of the round's group or "
        "below it, never the nominee; voting again changes the vote while the round is open. Needs manage-content "
        "on the round's group (the bot's user is an admin there).",
        request=VoteSerializer,
        responses={200: VoteResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def votes(self, request: Request, pk: str) -> Response:
        voting_round = self.get_object()
        if not can(request.user, Capability.MANAGE_CONTENT, voting_round.group):
            raise PermissionDenied()
        values = VoteSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        community = voting_round.group.community
        voter = _member(community, data.get("voter"), data.get("platform"), data.get("user_id"), field="voter")
        nominee_member = _member(
            community, data.get("nominee"), data.get("platform"), data.get("nominee_user_id"), field="nominee"
        )
        nomination = Nomination.objects.filter(round=voting_round, member=nominee_member).first()
        if nomination is None:
            raise ApplicationError(_("That member is not a nominee of this round."), field="nominee")
        vote = services.vote_cast(voting_round=voting_round, nominee=nomination, voter=voter, approve=data["approve"])
        return Response(VoteResultSerializer(vote).data)

    @extend_schema(
        summary="Close the round",
        description="No more votes. Needs manage-members on the group.",
        request=None,
        responses={200: VotingRoundSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        voting_round = self.get_object()
        _require_manage(request, voting_round.group)
        return Response(VotingRoundSerializer(services.round_close(voting_round=voting_round)).data)

    @extend_schema(
        summary="Appoint a qualified nominee admin of the group",
        description="Refused (400, with the reason) unless the nominee has at least `min_votes` votes of which at "
        "least `threshold_recognition` approve. Needs manage-members on the group.",
        request=AppointSerializer,
        responses={200: VotingRoundSerializer},
    )
    @action(detail=True, methods=["post"])
    def appoint(self, request: Request, pk: str) -> Response:
        voting_round = self.get_object()
        _require_manage(request, voting_round.group)
        values = AppointSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        nomination = Nomination.objects.filter(round=voting_round, member_id=values.validated_data["nominee"]).first()
        if nomination is None:
            raise ApplicationError(_("That member is not a nominee of this round."), field="nominee")
        if not can_change_role(request.user, member=nomination.member, group=voting_round.group, role=Role.ADMIN):
            raise PermissionDenied()
        services.nominee_appoint(nomination=nomination, by=request.user)
        return Response(VotingRoundSerializer(voting_round).data)


def _member(community, member_id, platform, user_id, *, field: str) -> Member:
    if member_id:
        member = Member.objects.filter(community=community, pk=member_id).first()
    elif platform and user_id:
        member = member_by_handle(community=community, platform=platform, external_id=user_id)
    else:
        raise ApplicationError(
            _("Name the %(who)s by member id, or by platform and account.") % {"who": field}, field=field
        )
    if member is None:
        raise ApplicationError(_("No such member in this community."), field=field)
    return member


# --- Assessments and rotation ---------------------------------------------------------------------


class MonthSerializer(serializers.Serializer):
    month = serializers.CharField(max_length=7, help_text="YYYY-MM")


class AssessmentRowSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="assessment.member_id")
    name = serializers.CharField(source="assessment.member.display_name")
    month = serializers.DateField(source="assessment.month")
    activity_score = serializers.IntegerField(source="assessment.activity_score")
    dispute_score = serializers.IntegerField(source="assessment.dispute_score")
    total = serializers.IntegerField(source="assessment.total")
    notes = serializers.CharField(source="assessment.notes")
    kept = serializers.BooleanField(help_text="Corrected by hand before, so left as it was.")


class AssessmentsComputeView(APIView):
    @extend_schema(
        summary="Assess the group's staff on a month's real activity",
        description="Core admins, admins and guides of the group (owners are not assessed): activity from messages "
        "and replies, online hours and answers to questions; dispute handling from reviews decided and flags "
        "resolved, each against the group's staff. An upsert per admin and month; rows corrected by hand are "
        "kept. Needs manage-members on the group.",
        request=MonthSerializer,
        responses={200: AssessmentRowSerializer(many=True), 404: OpenApiResponse(description="No such group.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        group = _visible_group(request, pk)
        _require_manage(request, group)
        values = MonthSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        results = services.assessments_compute(group=group, month=_month(values.validated_data["month"]))
        return Response(AssessmentRowSerializer(results, many=True).data)


class RotationSerializer(serializers.Serializer):
    month = serializers.CharField(max_length=7, help_text="YYYY-MM: the month whose activity ranks the members.")
    top = serializers.IntegerField(min_value=1, max_value=20, default=3)


class GuideSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member_id")
    name = serializers.CharField(source="member.display_name")
    role = serializers.CharField()
    role_until = serializers.DateTimeField()


class RotationView(APIView):
    @extend_schema(
        summary="Rotate the month's most active members in as temporary guides",
        description="Plain members of the group ranked by messages + replies in the group and below it that "
        "month; the top ones become guides until the month ends, or, for a month already over, until the next "
        "month ends. Needs manage-members on the group.",
        request=RotationSerializer,
        responses={200: GuideSerializer(many=True), 404: OpenApiResponse(description="No such group.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        group = _visible_group(request, pk)
        _require_manage(request, group)
        values = RotationSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        guides = services.rotation_run(
            group=group, month=_month(values.validated_data["month"]), top=values.validated_data["top"]
        )
        return Response(GuideSerializer(guides, many=True).data)
