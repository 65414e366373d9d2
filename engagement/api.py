"""The engagement API: check-ins from bots, a member's points, the rewards shop and its
redemptions, organised events, the points rules and the levels. Thin views over the services;
scoped like the pages (what you may not see answers 404, what you may see but not change 403)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer
from core.errors import ApplicationError
from engagement import selectors
from engagement.models import (
    CheckInSource,
    Level,
    OrganisedEvent,
    PointsRules,
    Redemption,
    RedemptionStatus,
    RewardItem,
)
from engagement.services.checkins import checkin_record
from engagement.services.levels import levels_for, levels_save
from engagement.services.organised import organised_event_record
from engagement.services.points import RULE_FIELDS, points_rules, points_rules_save
from engagement.services.shop import MAX_COST, redemption_cancel, redemption_fulfil, reward_redeem, reward_save
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, groups_where
from members.selectors import members_visible_to
from members.services.people import member_by_handle
from members.services.points import points_balance
from subgroups.access import Capability
from subgroups.models import Community, Group, Platform

ID_PATTERN = r"[0-9]{1,18}"
MAX_ID = 2**63 - 1


def _visible_communities(user) -> QuerySet[Community]:
    return Community.objects.filter(pk__in=groups_where(user, Capability.VIEW).values("community_id"))


def _community(request: Request, pk) -> Community:
    community = _visible_communities(request.user).select_related("hub").filter(pk=pk).first()
    if community is None:
        raise Http404
    return community


def _require_manager(request: Request, community: Community) -> None:
    if not selectors.manages_community(request.user, community):
        raise PermissionDenied()


class LevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Level
        fields = ["id", "name", "threshold"]


class MemberRefSerializer(serializers.Serializer):
    """A member: Canopy's id, or the platform account an integration knows them by."""

    member = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Canopy's id, or:")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    user_id = serializers.CharField(max_length=128, required=False, help_text="The member's id on the platform.")


def _member_from(data: dict, *, community: Community | None, visible: QuerySet[Member]) -> Member:
    """The member a request names, among those visible to the caller; 404 otherwise."""
    if data.get("member"):
        members = visible.filter(pk=data["member"])
        if community is not None:
            members = members.filter(community=community)
        member = members.select_related("community").first()
    elif data.get("platform") and data.get("user_id"):
        if community is None:
            raise ApplicationError(_("Name the group or the community of a platform account."), field="community")
        member = member_by_handle(community=community, platform=data["platform"], external_id=data["user_id"])
        if member is not None and not visible.filter(pk=member.pk).exists():
            member = None
    else:
        raise ApplicationError(_("Name the member: member, or platform and user_id."), field="member")
    if member is None:
        raise Http404
    return member


# --- Check-ins ------------------------------------------------------------------------------------


class CheckInInSerializer(MemberRefSerializer):
    group = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Where they checked in; default: their home group."
    )
    community = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Needed with platform and user_id when no group."
    )


class StreakSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    best = serializers.IntegerField()
    last_day = serializers.DateField(allow_null=True)


class CheckInOutSerializer(serializers.Serializer):
    check_in = serializers.IntegerField()
    member = serializers.IntegerField()
    group = serializers.IntegerField(allow_null=True)
    day = serializers.DateField(help_text="The community's local day.")
    source = serializers.ChoiceField(choices=CheckInSource.choices)
    created = serializers.BooleanField()
    already_checked_in = serializers.BooleanField()
    points = serializers.IntegerField(help_text="Points paid for this check-in (0 for a repeat).")
    streak_bonus = serializers.IntegerField()
    streak = StreakSerializer()
    balance = serializers.IntegerField()


def _streak(streak) -> dict:
    return {"current": streak.current, "best": streak.best, "last_day": streak.last_day}


class CheckInView(APIView):
    @extend_schema(
        summary="Check a member in (bots)",
        description=(
            "One check-in per member per local day of the community. 201 with the points when it is the day's "
            "first, 200 with `already_checked_in` otherwise. Needs the manage-members and manage-content "
            "capabilities on the group (like the events API); a member is found by id or by platform account "
            "among the members of those groups."
        ),
        request=CheckInInSerializer,
        responses={201: CheckInOutSerializer, 200: CheckInOutSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A member typed 签到 in a WeCom group",
                request_only=True,
                value={"group": 12, "platform": "wecom", "user_id": "wmOgQhDgAAk3"},
            ),
            OpenApiExample(
                "The fifth day in a row: points and the streak bonus",
                response_only=True,
                status_codes=["201"],
                value={
                    "check_in": 5120,
                    "member": 1044,
                    "group": 12,
                    "day": "2026-12-07",
                    "source": "api",
                    "created": True,
                    "already_checked_in": False,
                    "points": 5,
                    "streak_bonus": 20,
                    "streak": {"current": 5, "best": 9, "last_day": "2026-12-07"},
                    "balance": 385,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        values = CheckInInSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        writable = groups_where(request.user, Capability.MANAGE_MEMBERS) & groups_where(
            request.user, Capability.MANAGE_CONTENT
        )
        group = community = None
        if data.get("group"):
            group = writable.select_related("community").filter(pk=data["group"]).first()
            if group is None:
                raise Http404
            community = group.community
        elif data.get("community"):
            community = Community.objects.filter(pk=data["community"], pk__in=writable.values("community_id")).first()
            if community is None:
                raise Http404
        managed = Member.objects.filter(
            pk__in=Membership.objects.filter(group__in=writable, status=MembershipStatus.ACTIVE).values("member_id")
        ) | Member.objects.filter(community__hub__in=writable)
        member = _member_from(data, community=community, visible=managed)
        result = checkin_record(member=member, group=group, source=CheckInSource.API)
        body = {
            "check_in": result.check_in.pk,
            "member": member.pk,
            "group": result.check_in.group_id,
            "day": result.check_in.day,
            "source": result.check_in.source,
            "created": result.created,
            "already_checked_in": result.already_checked_in,
            "points": result.points,
            "streak_bonus": result.streak_bonus,
            "streak": _streak(result.streak),
            "balance": points_balance(member=member),
        }
        return Response(
            CheckInOutSerializer(body).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


# --- A member's points -----------------------------------------------------------------------------


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.IntegerField()
    reason = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    balance = serializers.IntegerField(help_text="The balance after this entry.")


class MemberPointsSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Points to spend: the sum of the ledger.")
    lifetime = serializers.IntegerField(help_text="Points earned, refunds aside: they decide the level.")
    level = LevelSerializer(allow_null=True)
    next_level = LevelSerializer(allow_null=True)
    to_next_level = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    streak = StreakSerializer()
    recent = EntrySerializer(many=True, help_text="The latest 20 ledger entries, newest first.")


class MemberPointsView(APIView):
    @extend_schema(
        summary="A member's points, level and streak",
        responses={200: MemberPointsSerializer, 404: OpenApiResponse(description="No such member (for you).")},
    )
    def get(self, request: Request, pk: str) -> Response:
        member = get_object_or_404(members_visible_to(request.user).select_related("community"), pk=int(pk))
        standing = selectors.member_standing(member)
        lines = selectors.ledger(member)[-20:]
        body = {
            "member": member.pk,
            "balance": standing.balance,
            "lifetime": standing.lifetime,
            "level": standing.level,
            "next_level": standing.next_level,
            "to_next_level": standing.progress.to_next,
            "progress_percent": standing.progress.percent,
            "streak": _streak(standing.streak),
            "recent": [
                {
                    "id": line.entry.pk,
                    "amount": line.entry.amount,
                    "reason": line.entry.reason,
                    "note": line.entry.note,
                    "created_at": line.entry.created_at,
                    "balance": line.balance,
                }
                for line in reversed(lines)
            ],
        }
        return Response(MemberPointsSerializer(body).data)


# --- Rewards and redemptions -------------------------------------------------------------------------


class RewardSerializer(serializers.ModelSerializer):
    requires_level = serializers.PrimaryKeyRelatedField(queryset=Level.objects.all(), required=False, allow_null=True)
    cost = serializers.IntegerField(min_value=1, max_value=MAX_COST)
    stock = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, allow_null=True)
    per_member_limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)
    requires_streak = serializers.IntegerField(min_value=0, max_value=3650, required=False, default=0)

    class Meta:
        model = RewardItem
        fields = [
            "id", "community", "name", "description", "cost", "stock", "per_member_limit", "requires_level",
            "requires_streak", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]


_REWARD_FIELDS = (
    "name", "description", "cost", "stock", "per_member_limit", "requires_level", "requires_streak", "is_active",
)  # fmt: skip


class RedemptionSerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name", read_only=True)
    member_name = serializers.CharField(source="member.display_name", read_only=True)

    class Meta:
        model = Redemption
        fields = [
            "id", "community", "item", "item_name", "member", "member_name", "cost", "status", "created_at",
            "fulfilled_at", "cancelled_at", "by",
        ]  # fmt: skip
        read_only_fields = fields


class RewardFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = RewardItem
        fields = ["community", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Rewards in the shops of the communities you see"),
    retrieve=extend_schema(summary="A reward"),
    create=extend_schema(summary="Add a reward", description="Needs manage-tree on the hub."),
    update=extend_schema(summary="Replace a reward"),
    partial_update=extend_schema(summary="Change a reward"),
)
class RewardViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RewardSerializer
    queryset = RewardItem.objects.none()
    filterset_class = RewardFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[RewardItem]:
        return RewardItem.objects.filter(community__in=_visible_communities(self.request.user)).order_by(
            "community_id", "cost", "pk"
        )

    def _check_level(self, community: Community, data: dict) -> None:
        level = data.get("requires_level")
        if level is not None and level.community_id != community.pk:
            raise ApplicationError(_("No such level."), field="requires_level")

    def create(self, request: Request, *args, **kwargs) -> Response:
        values = RewardSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        community = _community(request, values.validated_data["community"].pk)
        _require_manager(request, community)
        self._check_level(community, values.validated_data)
        data = {name: values.validated_data[name] for name in _REWARD_FIELDS if name in values.validated_data}
        item = reward_save(community=community, **data)
        return Response(RewardSerializer(item).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        _require_manager(request, item.community)
        partial = kwargs.pop("partial", False)
        values = RewardSerializer(item, data=request.data, partial=partial)
        values.is_valid(raise_exception=True)
        if values.validated_data.get("community", item.community).pk != item.community_id:
            raise ApplicationError(_("A reward stays in its community."), field="community")
        self._check_level(item.community, values.validated_data)
        data = {name: getattr(item, name) for name in _REWARD_FIELDS}
        data.update({name: values.validated_data[name] for name in _REWARD_FIELDS if name in values.validated_data})
        item = reward_save(community=item.community, item=item, **data)
        return Response(RewardSerializer(item).data)

    @extend_schema(
        summary="Redeem a reward for a member",
        description=(
            "Spends the member's points: 201 with the redemption, or 400 saying why not (out of stock, not "
            "enough points and how many are missing, locked behind a level or a streak, the per-member limit "
            "reached). Needs manage-members on the hub or on a group the member is in."
        ),
        request=MemberRefSerializer,
        responses={201: RedemptionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def redeem(self, request: Request, pk: str) -> Response:
        item = self.get_object()
        values = MemberRefSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        member = _member_from(values.validated_data, community=item.community, visible=members_visible_to(request.user))
        if not selectors.manages_member(request.user, member):
            raise PermissionDenied()
        redemption = reward_redeem(member=member, item=item)
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)


class RedemptionFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    status = django_filters.ChoiceFilter(choices=RedemptionStatus.choices)
    member = django_filters.NumberFilter(field_name="member_id", min_value=1, max_value=MAX_ID)
    item = django_filters.NumberFilter(field_name="item_id", min_value=1, max_value=MAX_ID)

    class Meta:
        model = Redemption
        fields = ["community", "status", "member", "item"]


@extend_schema_view(
    list=extend_schema(summary="Redemptions of the members you see", description="Newest first."),
    retrieve=extend_schema(summary="A redemption"),
)
class RedemptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RedemptionSerializer
    queryset = Redemption.objects.none()
    filterset_class = RedemptionFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Redemption]:
        return (
            Redemption.objects.filter(member__in=members_visible_to(self.request.user))
            .select_related("item", "member__community")
            .order_by("-created_at", "-pk")
        )

    def _managed(self) -> Redemption:
        redemption = self.get_object()
        if not selectors.manages_member(self.request.user, redemption.member):
            raise PermissionDenied()
        return redemption

    @extend_schema(
        summary="The reward was handed over",
        description="Needs manage-members on the hub or a group the member is in.",
        request=None,
        responses={200: RedemptionSerializer, 400: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def fulfil(self, request: Request, pk: str) -> Response:
        redemption = redemption_fulfil(redemption=self._managed(), by=request.user)
        return Response(RedemptionSerializer(redemption).data)

    @extend_schema(
        summary="Cancel a redemption and refund the points",
        description="Only a redemption still waiting; the stock comes back too.",
        request=None,
        responses={200: RedemptionSerializer, 400: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        redemption = redemption_cancel(redemption=self._managed(), by=request.user)
        return Response(RedemptionSerializer(redemption).data)


# --- Organised events ----------------------------------------------------------------------------


class OrganisedEventSerializer(serializers.ModelSerializer):
    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all())
    organiser = serializers.PrimaryKeyRelatedField(queryset=Member.objects.all())
    attendees = serializers.IntegerField(min_value=0, max_value=100_000, required=False, default=0)
    points = serializers.SerializerMethodField()

    class Meta:
        model = OrganisedEvent
        fields = [
            "id", "community", "group", "organiser", "title", "held_on", "attendees", "recorded_by", "created_at",
            "points",
        ]  # fmt: skip
        read_only_fields = ["id", "community", "recorded_by", "created_at", "points"]

    def get_points(self, event) -> int | None:
        return self.context.get("points")


class OrganisedEventFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=MAX_ID)
    organiser = django_filters.NumberFilter(field_name="organiser_id", min_value=1, max_value=MAX_ID)

    class Meta:
        model = OrganisedEvent
        fields = ["community", "group", "organiser"]


@extend_schema_view(
    list=extend_schema(summary="Organised events in the groups you see"),
    retrieve=extend_schema(summary="An organised event"),
    create=extend_schema(
        summary="Record an organised event",
        description="Pays the organiser the community's points for it. Needs manage-members on the group.",
    ),
)
class OrganisedEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = OrganisedEventSerializer
    queryset = OrganisedEvent.objects.none()
    filterset_class = OrganisedEventFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[OrganisedEvent]:
        return OrganisedEvent.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW)).order_by(
            "-held_on", "-pk"
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        values = OrganisedEventSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        group = groups_where(request.user, Capability.VIEW).filter(pk=data["group"].pk).select_related("community")
        group = group.first()
        if group is None:
            raise Http404
        if not can(request.user, Capability.MANAGE_MEMBERS, group):
            raise PermissionDenied()
        organiser = members_visible_to(request.user).filter(pk=data["organiser"].pk).first()
        if organiser is None:
            raise ApplicationError(_("No such member."), field="organiser")
        recorded = organised_event_record(
            group=group,
            organiser=organiser,
            title=data["title"],
            held_on=data["held_on"],
            attendees=data.get("attendees", 0),
            by=request.user,
        )
        body = OrganisedEventSerializer(recorded.event, context={"points": recorded.points}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- Rules and levels ----------------------------------------------------------------------------


class PointsRulesSerializer(serializers.ModelSerializer):
    class Meta:
        model = PointsRules
        fields = ["community", *RULE_FIELDS, "updated_at"]
        read_only_fields = ["community", "updated_at"]
        extra_kwargs = {name: {"min_value": 0, "max_value": 100_000, "required": True} for name in RULE_FIELDS} | {
            "streak_days": {"min_value": 1, "max_value": 365, "required": True}
        }


class PointsRulesView(APIView):
    @extend_schema(summary="A community's points rules", responses={200: PointsRulesSerializer})
    def get(self, request: Request, community: str) -> Response:
        return Response(PointsRulesSerializer(points_rules(community=_community(request, int(community)))).data)

    @extend_schema(
        summary="Change the points rules",
        description="Every rule; 0 switches a rule off. Needs manage-tree on the hub.",
        request=PointsRulesSerializer,
        responses={200: PointsRulesSerializer, 400: ErrorSerializer},
    )
    def put(self, request: Request, community: str) -> Response:
        return self._save(request, community, partial=False)

    @extend_schema(
        summary="Change some of the points rules",
        request=PointsRulesSerializer,
        responses={200: PointsRulesSerializer, 400: ErrorSerializer},
    )
    def patch(self, request: Request, community: str) -> Response:
        return self._save(request, community, partial=True)

    def _save(self, request: Request, community: str, *, partial: bool) -> Response:
        found = _community(request, int(community))
        _require_manager(request, found)
        values = PointsRulesSerializer(points_rules(community=found), data=request.data, partial=partial)
        values.is_valid(raise_exception=True)
        rules = points_rules_save(
            community=found,
            **{name: values.validated_data[name] for name in RULE_FIELDS if name in values.validated_data},
        )
        return Response(PointsRulesSerializer(rules).data)


class LevelInSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    name = serializers.CharField(max_length=50)
    threshold = serializers.IntegerField(min_value=0, max_value=1_999_999_999)


class LevelsSerializer(serializers.Serializer):
    levels = LevelInSerializer(many=True, help_text="Every level: those left out are deleted.")


class LevelsOutSerializer(serializers.Serializer):
    levels = LevelSerializer(many=True)


class LevelsView(APIView):
    @extend_schema(summary="A community's levels, lowest first", responses={200: LevelsOutSerializer})
    def get(self, request: Request, community: str) -> Response:
        levels = levels_for(community=_community(request, int(community)))
        return Response(LevelsOutSerializer({"levels": levels}).data)

    @extend_schema(
        summary="Replace the levels",
        description=(
            "The whole list: existing levels by id, new ones without. The lowest starts at 0 points and no two "
            "share a threshold; a level a reward needs can't go. Needs manage-tree on the hub."
        ),
        request=LevelsSerializer,
        responses={200: LevelsOutSerializer, 400: ErrorSerializer},
    )
    def put(self, request: Request, community: str) -> Response:
        found = _community(request, int(community))
        _require_manager(request, found)
        values = LevelsSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        levels = levels_save(community=found, levels=[dict(row) for row in values.validated_data["levels"]])
        return Response(LevelsOutSerializer({"levels": levels}).data)
