"""The recall API: policies and stages for operators, attempts and their outcomes for bots and
dashboards, opt-outs, exit surveys and their report. Scoped like the pages: a user sees the
attempts of the groups they may see; changing policies needs run-recall on the hub."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import RiskBand, Segment
from core.errors import ApplicationError
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, groups_where
from members.selectors import community_for_api, member_named
from recall import selectors
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    CouponPool,
    ExitReason,
    ExitSurvey,
    GiftKind,
    OptOut,
    OptOutSource,
    RecallAttempt,
    RecallPolicy,
    RecallStage,
)
from recall.services import exits, outcomes, policies
from subgroups.access import Capability
from subgroups.models import Community, Platform

ID_PATTERN = r"[0-9]{1,18}"


def _community(request: Request, raw) -> Community:
    """A community the user may see, from a query or body value; 404 otherwise."""
    return community_for_api(request.user, raw)


def _require_recall(request: Request, community: Community) -> None:
    if community.hub_id is None or not can(request.user, Capability.RUN_RECALL, community.hub):
        raise PermissionDenied()


# --- Policies and stages ---------------------------------------------------------------------


class StageSerializer(serializers.ModelSerializer):
    segments = serializers.ListField(child=serializers.ChoiceField(choices=Segment.choices), required=False)
    risk_bands = serializers.ListField(
        child=serializers.ChoiceField(choices=[value for value in RiskBand.values if value]), required=False
    )
    gift_kind = serializers.ChoiceField(choices=GiftKind.choices, required=False, allow_blank=True)
    coupon_pool = serializers.PrimaryKeyRelatedField(queryset=CouponPool.objects.all(), required=False, allow_null=True)

    class Meta:
        model = RecallStage
        fields = [
            "id", "policy", "position", "name", "days_silent", "segments", "risk_bands", "channel", "template",
            "template_b", "include_digest", "gift_kind", "gift_points", "coupon_pool", "privilege", "wait_days",
        ]  # fmt: skip
        read_only_fields = ["id", "policy"]
        extra_kwargs = {"position": {"required": False}}


class PolicySerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = RecallPolicy
        fields = [
            "id", "community", "name", "is_active", "quiet_start", "quiet_end", "monthly_cap", "recovery_days",
            "point_value", "stages",
        ]  # fmt: skip
        read_only_fields = ["id", "stages"]


_POLICY_FIELDS = ("name", "is_active", "quiet_start", "quiet_end", "monthly_cap", "recovery_days", "point_value")
_STAGE_FIELDS = (
    "name", "days_silent", "channel", "template", "template_b", "segments", "risk_bands", "include_digest",
    "gift_kind", "gift_points", "coupon_pool", "privilege", "wait_days", "position",
)  # fmt: skip


class PolicyFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = RecallPolicy
        fields = ["community"]


@extend_schema_view(
    list=extend_schema(summary="Recall policies of the communities you see"),
    retrieve=extend_schema(summary="A recall policy with its stages"),
    create=extend_schema(summary="Create a recall policy", description="Needs run-recall on the hub."),
    partial_update=extend_schema(summary="Change a recall policy"),
)
class RecallPolicyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PolicySerializer
    queryset = RecallPolicy.objects.none()
    filterset_class = PolicyFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[RecallPolicy]:
        communities = groups_where(self.request.user, Capability.VIEW).values("community_id")
        return (
            RecallPolicy.objects.filter(community_id__in=communities)
            .prefetch_related("stages")
            .order_by("community_id", "name", "pk")
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        values = PolicySerializer(data=request.data)
        values.is_valid(raise_exception=True)
        community = values.validated_data["community"]
        if not selectors.visible_groups(request.user, community).exists():
            raise Http404
        _require_recall(request, community)
        data = {name: values.validated_data[name] for name in _POLICY_FIELDS if name in values.validated_data}
        policy = policies.policy_save(community=community, **{"name": "", **data})
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        policy = self.get_object()
        _require_recall(request, policy.community)
        values = PolicySerializer(policy, data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        data = {name: getattr(policy, name) for name in _POLICY_FIELDS}
        data.update({name: values.validated_data[name] for name in _POLICY_FIELDS if name in values.validated_data})
        policy = policies.policy_save(community=policy.community, policy=policy, **data)
        return Response(PolicySerializer(policy).data)

    @extend_schema(summary="Add a stage to the policy", request=StageSerializer, responses={201: StageSerializer})
    @action(detail=True, methods=["post"])
    def stages(self, request: Request, pk: str) -> Response:
        policy = self.get_object()
        _require_recall(request, policy.community)
        values = StageSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        stage = policies.stage_save(policy=policy, **_stage_values(values.validated_data))
        return Response(StageSerializer(stage).data, status=status.HTTP_201_CREATED)


def _stage_values(data: dict, stage: RecallStage | None = None) -> dict:
    values = {name: getattr(stage, name) for name in _STAGE_FIELDS} if stage else {}
    values.update({name: data[name] for name in _STAGE_FIELDS if name in data})
    values.setdefault("template_b", "")
    values["gift_kind"] = values.get("gift_kind") or ""
    values["gift_points"] = values.get("gift_points") or 0
    for required in ("name", "days_silent", "channel", "template"):
        values.setdefault(required, "" if required != "days_silent" else 0)
    return values


@extend_schema_view(
    retrieve=extend_schema(summary="A recall stage"),
    partial_update=extend_schema(summary="Change a recall stage"),
    destroy=extend_schema(summary="Delete a stage no member has been reached by"),
)
class RecallStageViewSet(
    mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = StageSerializer
    queryset = RecallStage.objects.none()
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[RecallStage]:
        communities = groups_where(self.request.user, Capability.VIEW).values("community_id")
        return RecallStage.objects.filter(policy__community_id__in=communities).select_related("policy__community")

    def update(self, request: Request, *args, **kwargs) -> Response:
        stage = self.get_object()
        _require_recall(request, stage.policy.community)
        values = StageSerializer(stage, data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        stage = policies.stage_save(policy=stage.policy, stage=stage, **_stage_values(values.validated_data, stage))
        return Response(StageSerializer(stage).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        stage = self.get_object()
        _require_recall(request, stage.policy.community)
        policies.stage_delete(stage=stage)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Attempts ----------------------------------------------------------------------------------


class AttemptSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)

    class Meta:
        model = RecallAttempt
        fields = [
            "id", "community", "policy", "stage", "stage_name", "cycle", "member", "member_name", "group", "channel",
            "variant", "status", "body", "gift_points", "gift_value", "scheduled_at", "send_after", "sent_at",
            "delivered_at", "opened_at", "responded_at", "recovered_at", "call_outcome", "call_note", "called_at",
            "last_error",
        ]  # fmt: skip
        read_only_fields = fields


class CallSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=CallOutcome.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    opt_out = serializers.BooleanField(required=False, default=False, help_text="The member asked not to be contacted.")


class AttemptFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=AttemptStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    stage = django_filters.NumberFilter(field_name="stage_id", min_value=1, max_value=2**63 - 1)
    member = django_filters.NumberFilter(field_name="member_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = RecallAttempt
        fields = ["community", "status", "channel", "stage", "member"]


@extend_schema_view(
    list=extend_schema(summary="Recall attempts in the groups you see", description="Newest first."),
    retrieve=extend_schema(summary="A recall attempt"),
)
class RecallAttemptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AttemptSerializer
    queryset = RecallAttempt.objects.none()
    filterset_class = AttemptFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[RecallAttempt]:
        return (
            RecallAttempt.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW))
            .select_related("member", "stage")
            .order_by("-scheduled_at", "-pk")
        )

    @extend_schema(
        summary="Record a phone call",
        description="Needs run-recall on the attempt's group. No answer keeps the call on the list.",
        request=CallSerializer,
        responses={200: AttemptSerializer},
    )
    @action(detail=True, methods=["post"])
    def call(self, request: Request, pk: str) -> Response:
        attempt = self.get_object()
        if attempt.group is None or not can(request.user, Capability.RUN_RECALL, attempt.group):
            raise PermissionDenied()
        values = CallSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        attempt = outcomes.call_record(
            attempt=attempt,
            outcome=values.validated_data["outcome"],
            note=values.validated_data["note"],
            by=request.user,
        )
        if values.validated_data["opt_out"]:
            policies.opt_out(member=attempt.member, source=OptOutSource.ADMIN)
        return Response(AttemptSerializer(attempt).data)

    @extend_schema(
        summary="The member opened the message",
        description="For integrations that see reads. Needs manage-content on the attempt's group (the bot's "
        "user is an admin there). Twice is harmless.",
        request=None,
        responses={200: AttemptSerializer},
    )
    @action(detail=True, methods=["post"])
    def opened(self, request: Request, pk: str) -> Response:
        attempt = self._for_bot()
        outcomes.attempt_opened(attempt=attempt)
        attempt.refresh_from_db()
        return Response(AttemptSerializer(attempt).data)

    @extend_schema(
        summary="The member responded to the message",
        description="E.g. replied to the private message or claimed the gift in the chat. Twice is harmless.",
        request=None,
        responses={200: AttemptSerializer},
    )
    @action(detail=True, methods=["post"])
    def responded(self, request: Request, pk: str) -> Response:
        attempt = self._for_bot()
        outcomes.attempt_responded(attempt=attempt)
        attempt.refresh_from_db()
        return Response(AttemptSerializer(attempt).data)

    def _for_bot(self) -> RecallAttempt:
        attempt = self.get_object()
        if attempt.group is None or not can(self.request.user, Capability.MANAGE_CONTENT, attempt.group):
            raise PermissionDenied()
        if attempt.sent_at is None:
            raise ApplicationError(_("This message has not been sent yet."), field="status")
        return attempt


class FunnelRowSerializer(serializers.Serializer):
    policy = serializers.CharField()
    stage = serializers.IntegerField()
    stage_name = serializers.CharField()
    channel = serializers.CharField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    responded = serializers.IntegerField()
    recovered = serializers.IntegerField()
    failed = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost_per_recovery = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class FunnelSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    total = FunnelRowSerializer()
    rows = FunnelRowSerializer(many=True)


def _row(row: dict) -> dict:
    stage = row.get("stage")
    return {
        "policy": stage.policy.name if stage else "",
        "stage": stage.pk if stage else 0,
        "stage_name": stage.name if stage else "",
        "channel": str(row["channel"].value) if stage else "",
        **{key: row[key] for key in ("sent", "delivered", "opened", "responded", "recovered", "failed", "cost")},
        "cost_per_recovery": row["cost_per_recovery"],
    }


class FunnelView(APIView):
    @extend_schema(
        summary="The recall funnel",
        description="Sent, delivered, opened, responded and recovered, in total and per stage and channel, for "
        "attempts planned in the last `days` days (default 90) in the groups you see.",
        parameters=[
            OpenApiParameter("community", int, required=True),
            OpenApiParameter("days", int, description="1–730"),
        ],
        responses={200: FunnelSerializer},
    )
    def get(self, request: Request) -> Response:
        community = _community(request, request.query_params.get("community"))
        raw = request.query_params.get("days", "90")
        if not raw.isdigit() or not 1 <= int(raw) <= 730:
            raise ApplicationError(_("A whole number of days from 1 to 730."), field="days")
        attempts = selectors.attempts_for(request.user, community).filter(
            scheduled_at__gte=timezone.now() - timedelta(days=int(raw))
        )
        data = selectors.funnel(attempts)
        return Response(
            FunnelSerializer(
                {"days": int(raw), "total": _row(data["total"]), "rows": [_row(row) for row in data["rows"]]}
            ).data
        )


# --- Opt-outs ---------------------------------------------------------------------------------


class OptOutSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    member = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="Canopy's id, or:")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    user_id = serializers.CharField(max_length=128, required=False, help_text="The member's id on the platform.")
    opted_out = serializers.BooleanField(default=True, help_text="False: the member wants reminders again.")


class OptOutResultSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    opted_out = serializers.BooleanField()


class OptOutView(APIView):
    @extend_schema(
        summary="A member opts out of recall messages (or back in)",
        description="E.g. the member replied TD (退订) to the bot. Needs manage-content on a group the member is in.",
        request=OptOutSerializer,
        responses={200: OptOutResultSerializer},
    )
    def post(self, request: Request) -> Response:
        values = OptOutSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        community = _community(request, data["community"])
        member = member_named(
            community=community, member=data.get("member"), platform=data.get("platform"), user_id=data.get("user_id")
        )
        if member is None or not _manages(request, member):
            raise Http404
        if data["opted_out"]:
            policies.opt_out(member=member, source=OptOutSource.API)
        else:
            policies.opt_in(member=member)
        return Response({"member": member.pk, "opted_out": OptOut.objects.filter(member=member).exists()})


def _manages(request: Request, member: Member) -> bool:
    groups = groups_where(request.user, Capability.MANAGE_CONTENT)
    return Membership.objects.filter(member=member, group__in=groups, status=MembershipStatus.ACTIVE).exists() or (
        member.community.hub_id is not None and can(request.user, Capability.MANAGE_CONTENT, member.community.hub)
    )


# --- Exit surveys -----------------------------------------------------------------------------


class ExitSurveySerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)

    class Meta:
        model = ExitSurvey
        fields = [
            "id",
            "community",
            "member",
            "member_name",
            "group",
            "left_at",
            "created_at",
            "answered_at",
            "reasons",
            "other_text",
        ]
        read_only_fields = fields


class ExitAnswerSerializer(serializers.Serializer):
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=ExitReason.choices), required=False, default=list
    )
    other_text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ExitFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    answered = django_filters.BooleanFilter(field_name="answered_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ExitSurvey
        fields = ["community", "answered"]


@extend_schema_view(
    list=extend_schema(summary="Exit questionnaires in the groups you see"),
    retrieve=extend_schema(summary="An exit questionnaire"),
)
class ExitSurveyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExitSurveySerializer
    queryset = ExitSurvey.objects.none()
    filterset_class = ExitFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[ExitSurvey]:
        return (
            ExitSurvey.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW))
            .select_related("member")
            .order_by("-left_at", "-pk")
        )

    @extend_schema(
        summary="Record the member's answer",
        description="For bots that ask in the chat. Needs manage-content on the group left.",
        request=ExitAnswerSerializer,
        responses={200: ExitSurveySerializer},
    )
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str) -> Response:
        survey = self.get_object()
        if not can(request.user, Capability.MANAGE_CONTENT, survey.group):
            raise PermissionDenied()
        values = ExitAnswerSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        survey = exits.survey_answer(survey=survey, **values.validated_data)
        return Response(ExitSurveySerializer(survey).data)


class ReasonCountSerializer(serializers.Serializer):
    reason = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)


class ExitReportSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    answered = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    reasons = ReasonCountSerializer(many=True)


class ExitReportView(APIView):
    @extend_schema(
        summary="Churn attribution: why members left",
        parameters=[OpenApiParameter("community", int, required=True)],
        responses={200: ExitReportSerializer},
    )
    def get(self, request: Request) -> Response:
        community = _community(request, request.query_params.get("community"))
        report = selectors.exit_report(selectors.exit_surveys(request.user, community))
        return Response(
            ExitReportSerializer(
                {
                    "sent": report["sent"],
                    "answered": report["answered"],
                    "response_rate": report["response_rate"],
                    "reasons": [
                        {"reason": reason.value, "label": str(reason.label), "count": count, "share": share}
                        for reason, count, share in report["reasons"]
                    ],
                }
            ).data
        )
