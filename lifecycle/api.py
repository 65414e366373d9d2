"""The lifecycle API: rules for operators (changing them needs manage-tree on the hub), a rule's
preview, a run on demand, the history of moves, and members' dates, which bots set by platform
account. Scoped like the pages: a user sees the rules of the communities they see, and the moves
and dates of the groups they see."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from lifecycle import selectors
from lifecycle.models import (
    MAX_OFFSET_DAYS,
    MAX_THRESHOLD,
    LifecycleMove,
    LifecycleRule,
    MemberDate,
    MoveStatus,
    TriggerKind,
)
from lifecycle.services import dates as member_dates
from lifecycle.services import rules as rule_services
from lifecycle.services.engine import lifecycle_run, rule_preview
from members.models import Member, Membership, MembershipStatus
from members.permissions import groups_where
from members.selectors import member_named
from subgroups.access import Capability
from subgroups.models import Community, Group, Platform

ID_PATTERN = r"[0-9]{1,18}"
MAX_ID = 2**63 - 1


def _visible_communities(user) -> QuerySet:
    return groups_where(user, Capability.VIEW).values("community_id")


def _require_rules(request: Request, community: Community) -> None:
    if not selectors.visible_groups(request.user, community).exists():
        raise Http404
    if not selectors.manages_rules(request.user, community):
        raise PermissionDenied()


# --- Rules ------------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    from_group_name = serializers.CharField(source="from_group.name", read_only=True)
    to_group_name = serializers.CharField(source="to_group.name", read_only=True)

    class Meta:
        model = LifecycleRule
        fields = [
            "id", "community", "name", "from_group", "from_group_name", "to_group", "to_group_name", "trigger",
            "anchor_date", "date_label", "offset_days", "threshold", "keep_previous", "notice_template", "is_active",
            "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class RuleInputSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Only when creating.")
    name = serializers.CharField(max_length=100)
    from_group = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    to_group = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    trigger = serializers.ChoiceField(choices=TriggerKind.choices)
    anchor_date = serializers.DateField(required=False, allow_null=True, help_text="fixed_date: e.g. the exam date.")
    date_label = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="member_date: which of the member's dates."
    )
    offset_days = serializers.IntegerField(
        required=False, min_value=-MAX_OFFSET_DAYS, max_value=MAX_OFFSET_DAYS,
        help_text="Date triggers: move this many days before the date (negative: after).",
    )  # fmt: skip
    threshold = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_THRESHOLD,
        help_text="days_in_group, check_ins or points: the number to reach.",
    )  # fmt: skip
    keep_previous = serializers.BooleanField(required=False, default=False)
    notice_template = serializers.CharField(
        max_length=2000, required=False, allow_blank=True,
        help_text="Placeholders {name}, {from_group}, {to_group}, {date}. Empty: the default notice.",
    )  # fmt: skip
    is_active = serializers.BooleanField(required=False, default=True)


_RULE_FIELDS = (
    "name", "trigger", "anchor_date", "date_label", "offset_days", "threshold", "keep_previous", "notice_template",
    "is_active",
)  # fmt: skip


def _group_of(community: Community, raw, field: str) -> Group:
    group = Group.objects.filter(pk=raw).first()
    if group is None or group.community_id != community.pk:
        raise ApplicationError(_("Choose a group of this community."), field=field)
    return group


class CandidateSerializer(serializers.Serializer):
    rule = serializers.IntegerField(source="rule_id")
    member = serializers.IntegerField(source="member_id")
    member_name = serializers.CharField()
    membership = serializers.IntegerField(source="membership_id")
    from_group = serializers.IntegerField(source="from_group_id")
    to_group = serializers.IntegerField(source="to_group_id")
    due = serializers.DateField(help_text="The local day the rule moves the member.")
    date = serializers.DateField(help_text="What {date} reads: the trigger's date, or the day moved.")
    fits = serializers.BooleanField(help_text="False: the target group has no seat for them now.")


class PreviewSerializer(serializers.Serializer):
    today = serializers.DateField()
    days = serializers.IntegerField()
    room = serializers.IntegerField(help_text="Free seats in the target group.")
    due_count = serializers.IntegerField()
    due = CandidateSerializer(many=True, help_text="Moved at the next run.")
    upcoming_count = serializers.IntegerField()
    upcoming = CandidateSerializer(many=True, help_text="Due within `days` days (date and days-in-group rules).")


class RuleFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = LifecycleRule
        fields = ["community", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Lifecycle rules of the communities you see"),
    retrieve=extend_schema(summary="A lifecycle rule"),
    destroy=extend_schema(
        summary="Delete a lifecycle rule that never moved anyone",
        description="A rule with history is refused (400): deactivate it instead. Needs manage-tree on the hub.",
    ),
)
class LifecycleRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RuleSerializer
    queryset = LifecycleRule.objects.none()
    filterset_class = RuleFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[LifecycleRule]:
        return (
            LifecycleRule.objects.filter(community_id__in=_visible_communities(self.request.user))
            .select_related("community", "from_group", "to_group")
            .order_by("community_id", "name", "pk")
        )

    @extend_schema(
        summary="Create a lifecycle rule",
        description="Needs manage-tree on the hub. A bad notice template or trigger parameters is a 400 naming "
        "the field.",
        request=RuleInputSerializer,
        responses={201: RuleSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        values = RuleInputSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        community = get_object_or_404(Community, pk=data["community"])
        _require_rules(request, community)
        rule = rule_services.rule_save(
            community=community,
            from_group=_group_of(community, data["from_group"], "from_group"),
            to_group=_group_of(community, data["to_group"], "to_group"),
            by=request.user,
            **{name: data[name] for name in _RULE_FIELDS if name in data},
        )
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a lifecycle rule",
        description="Any of the fields; the community stays. Needs manage-tree on the hub.",
        request=RuleInputSerializer,
        responses={200: RuleSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        rule = self.get_object()
        _require_rules(request, rule.community)
        values = RuleInputSerializer(data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        current = {name: getattr(rule, name) for name in _RULE_FIELDS}
        current.update({name: data[name] for name in _RULE_FIELDS if name in data})
        rule = rule_services.rule_save(
            community=rule.community,
            rule=rule,
            from_group=_group_of(rule.community, data["from_group"], "from_group") if "from_group" in data
            else rule.from_group,
            to_group=_group_of(rule.community, data["to_group"], "to_group") if "to_group" in data else rule.to_group,
            **current,
        )  # fmt: skip
        return Response(RuleSerializer(rule).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        rule = self.get_object()
        _require_rules(request, rule.community)
        rule_services.rule_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Who the rule moves next",
        description="The members due at the next run, and those due within `days` days (1–365, default 30) for "
        "date and days-in-group rules. Lists stop at 500; the counts are whole. Members are listed only when "
        "you may see the rule's source group.",
        parameters=[OpenApiParameter("days", int, description="1–365")],
        responses={200: PreviewSerializer},
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        raw = request.query_params.get("days", "30")
        if not raw.isdigit() or not 1 <= int(raw) <= 365:
            raise ApplicationError(_("A whole number of days from 1 to 365."), field="days")
        data = rule_preview(rule, days=int(raw))
        if not selectors.visible_groups(request.user, rule.community).filter(pk=rule.from_group_id).exists():
            data["due"], data["upcoming"] = [], []
        return Response(PreviewSerializer(data).data)


# --- Runs ---------------------------------------------------------------------------------------


class RunInputSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Only say who would move.")


class RunResultSerializer(serializers.Serializer):
    skipped = serializers.IntegerField(required=False, help_text="1: another run was under way.")
    rules = serializers.IntegerField(required=False)
    rules_skipped = serializers.IntegerField(required=False, help_text="Rules whose group is archived.")
    moved = serializers.IntegerField(required=False)
    failed = serializers.IntegerField(required=False, help_text="No room in the target: retried next run.")
    notices = serializers.IntegerField(required=False)
    would_move = serializers.IntegerField(required=False)
    would_fail = serializers.IntegerField(required=False)
    preview = CandidateSerializer(many=True, required=False, help_text="Dry run: who would move.")


class CommunityRunView(APIView):
    @extend_schema(
        summary="Run the community's lifecycle rules now",
        description="Moves every member whose rule has fired, as the daily run does, and returns the counts; with "
        "`dry_run`, only who would move. Needs manage-tree on the hub.",
        request=RunInputSerializer,
        responses={200: RunResultSerializer},
    )
    def post(self, request: Request, community: int) -> Response:
        community_obj = get_object_or_404(Community, pk=community)
        _require_rules(request, community_obj)
        values = RunInputSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        result = lifecycle_run(community=community_obj, dry_run=values.validated_data["dry_run"])
        if "preview" in result:
            visible = set(selectors.visible_groups(request.user, community_obj).values_list("pk", flat=True))
            result["preview"] = [
                row for row in result["preview"] if row["from_group_id"] in visible or row["to_group_id"] in visible
            ]
        return Response(RunResultSerializer(result).data)


# --- History ------------------------------------------------------------------------------------


class MoveSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    joined_at = serializers.DateTimeField(source="from_membership.joined_at", read_only=True)
    left_at = serializers.DateTimeField(source="from_membership.left_at", read_only=True, allow_null=True)

    class Meta:
        model = LifecycleMove
        fields = [
            "id", "community", "rule", "rule_name", "member", "member_name", "from_group", "to_group",
            "from_membership", "membership", "status", "reason", "attempts", "notice", "at", "first_tried_at",
            "joined_at", "left_at",
        ]  # fmt: skip
        read_only_fields = fields


class MoveFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    rule = django_filters.NumberFilter(field_name="rule_id", min_value=1, max_value=MAX_ID)
    member = django_filters.NumberFilter(field_name="member_id", min_value=1, max_value=MAX_ID)
    status = django_filters.ChoiceFilter(choices=MoveStatus.choices)
    from_group = django_filters.NumberFilter(field_name="from_group_id", min_value=1, max_value=MAX_ID)
    to_group = django_filters.NumberFilter(field_name="to_group_id", min_value=1, max_value=MAX_ID)
    group = django_filters.NumberFilter(method="_either", min_value=1, max_value=MAX_ID, label="From or to this group")
    since = django_filters.DateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.DateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = LifecycleMove
        fields = ["community", "rule", "member", "status", "from_group", "to_group", "group", "since", "until"]

    def _either(self, queryset, _name, value):
        return queryset.filter(Q(from_group_id=value) | Q(to_group_id=value))


@extend_schema_view(
    list=extend_schema(
        summary="Lifecycle moves into or out of the groups you see",
        description="Newest first, failed moves (waiting for room) included. Nothing is ever deleted.",
    ),
    retrieve=extend_schema(summary="A lifecycle move"),
)
class LifecycleMoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MoveSerializer
    queryset = LifecycleMove.objects.none()
    filterset_class = MoveFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[LifecycleMove]:
        groups = groups_where(self.request.user, Capability.VIEW)
        return (
            LifecycleMove.objects.filter(Q(from_group__in=groups) | Q(to_group__in=groups))
            .select_related("member", "rule", "from_membership")
            .order_by("-at", "-pk")
        )


# --- Member dates -------------------------------------------------------------------------------


class MemberDateSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)

    class Meta:
        model = MemberDate
        fields = ["id", "community", "member", "member_name", "label", "date", "created_at", "updated_at"]
        read_only_fields = fields


class MemberDateInputSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    member = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Canopy's id, or:")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    user_id = serializers.CharField(max_length=128, required=False, help_text="The member's id on the platform.")
    label = serializers.CharField(max_length=32, default="exam", help_text="Which date, e.g. exam.")
    date = serializers.DateField()


class MemberDateChangeSerializer(serializers.Serializer):
    date = serializers.DateField()


class MemberDateFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=MAX_ID)
    member = django_filters.NumberFilter(field_name="member_id", min_value=1, max_value=MAX_ID)
    label = django_filters.CharFilter(field_name="label", max_length=32)

    class Meta:
        model = MemberDate
        fields = ["community", "member", "label"]


def _members_seen(user, capability: str) -> QuerySet[Member]:
    present = Membership.objects.filter(
        member=OuterRef("pk"), status=MembershipStatus.ACTIVE, group__in=groups_where(user, capability)
    )
    return Member.objects.filter(Exists(present))


def _may_change(request: Request, member: Member) -> None:
    """404 for a member the user may not see; 403 for one they see but do not manage."""
    if not _members_seen(request.user, Capability.VIEW).filter(pk=member.pk).exists():
        raise Http404
    if not _members_seen(request.user, Capability.MANAGE_MEMBERS).filter(pk=member.pk).exists():
        raise PermissionDenied()


@extend_schema_view(
    list=extend_schema(summary="Dates of the members you see", description="E.g. each member's exam date."),
    retrieve=extend_schema(summary="A member's date"),
    destroy=extend_schema(summary="Remove a member's date", description="Needs manage-members on their group."),
)
class MemberDateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MemberDateSerializer
    queryset = MemberDate.objects.none()
    filterset_class = MemberDateFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[MemberDate]:
        return (
            MemberDate.objects.filter(member__in=_members_seen(self.request.user, Capability.VIEW))
            .select_related("member")
            .order_by("community_id", "label", "date", "pk")
        )

    @extend_schema(
        summary="Set a member's date",
        description="Name the member by `member`, or by `platform` and `user_id` (for bots). One date per member "
        "and label: setting it again changes it (200) rather than adding another (201). Needs manage-members on "
        "a group the member is in.",
        request=MemberDateInputSerializer,
        responses={200: MemberDateSerializer, 201: MemberDateSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        values = MemberDateInputSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        community = get_object_or_404(Community, pk=data["community"])
        member = member_named(
            community=community, member=data.get("member"), platform=data.get("platform"), user_id=data.get("user_id")
        )
        if member is None:
            raise Http404
        _may_change(request, member)
        row, created = member_dates.member_date_set(member=member, label=data["label"], date=data["date"])
        return Response(
            MemberDateSerializer(row).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        summary="Change a member's date",
        request=MemberDateChangeSerializer,
        responses={200: MemberDateSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        row = self.get_object()
        _may_change(request, row.member)
        values = MemberDateChangeSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        row, _created = member_dates.member_date_set(
            member=row.member, label=row.label, date=values.validated_data["date"]
        )
        return Response(MemberDateSerializer(row).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        row = self.get_object()
        _may_change(request, row.member)
        member_dates.member_date_remove(member_date=row)
        return Response(status=status.HTTP_204_NO_CONTENT)
