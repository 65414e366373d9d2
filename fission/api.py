"""The fission API: a member's invitation link (for bots to send it), the fission coefficients,
invitation campaigns and the referrals. Scoped like the pages: a user sees the referrals into
the groups they may see; campaigns are changed by those who manage the tree on the hub."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from fission import selectors
from fission.models import Campaign, Referral, ReferralStatus
from fission.public import invite_link
from fission.services.campaigns import campaign_delete, campaign_save
from members.permissions import can, groups_where
from members.selectors import community_for_api, members_visible_to
from members.services.funnel import public_url
from subgroups.access import Capability
from subgroups.models import Community, Group

ID_PATTERN = r"[0-9]{1,18}"


def _community(request: Request, raw) -> Community:
    """A community the user may see, from a query or body value; 404 otherwise."""
    return community_for_api(request.user, raw)


def _require_manage(request: Request, community: Community) -> None:
    if community.hub_id is None or not can(request.user, Capability.MANAGE_TREE, community.hub):
        raise PermissionDenied()


# --- A member's invitation link -------------------------------------------------------------------


class InviteLinkSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    code = serializers.CharField()
    url = serializers.URLField(help_text="The member's personal invitation link (/i/<code>/).")
    qr_url = serializers.URLField(help_text="Its QR image (SVG).")


class InviteLinkView(APIView):
    @extend_schema(
        summary="A member's personal invitation link",
        description="For bots that send members their own link. The code is made on first use. "
        "Members you cannot see answer 404.",
        responses={200: InviteLinkSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        member = get_object_or_404(members_visible_to(request.user), pk=pk)
        url = invite_link(member)
        return Response(
            {
                "member": member.pk,
                "code": member.invite_code,
                "url": url,
                "qr_url": public_url(reverse("fission:landing_qr", args=[member.invite_code])),
            }
        )


# --- Coefficients ---------------------------------------------------------------------------------


class FiguresSerializer(serializers.Serializer):
    new_members = serializers.IntegerField(help_text="New members brought in (credited referrals).")
    inviters = serializers.IntegerField(help_text="Members who brought at least one.")
    coefficient = serializers.FloatField(allow_null=True, help_text="new_members ÷ inviters; null without inviters.")
    rejected = serializers.IntegerField()


class GroupFiguresSerializer(FiguresSerializer):
    group = serializers.IntegerField()
    name = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    own_new_members = serializers.IntegerField(help_text="Those who joined this group itself, not one below it.")


class LiveCodeFiguresSerializer(FiguresSerializer):
    live_code = serializers.IntegerField()
    name = serializers.CharField()


class CampaignFiguresSerializer(FiguresSerializer):
    campaign = serializers.IntegerField()
    name = serializers.CharField()
    completions = serializers.IntegerField()


class WeekFiguresSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the week starts on, in the community's time zone.")
    new_members = serializers.IntegerField()
    inviters = serializers.IntegerField()
    coefficient = serializers.FloatField(allow_null=True, help_text="That week's.")
    new_members_to_date = serializers.IntegerField()
    inviters_to_date = serializers.IntegerField()
    coefficient_to_date = serializers.FloatField(
        allow_null=True, help_text="Everyone brought in since the period began ÷ everyone who brought someone."
    )


class CoefficientsSerializer(serializers.Serializer):
    community = serializers.IntegerField()
    period = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)
    benchmark = serializers.FloatField()
    total = FiguresSerializer()
    groups = GroupFiguresSerializer(many=True, help_text="Each group's figures roll up its whole subtree.")
    live_codes = LiveCodeFiguresSerializer(many=True)
    campaigns = CampaignFiguresSerializer(many=True)
    weekly = WeekFiguresSerializer(many=True)


def _figures(row: dict) -> dict:
    return {key: row[key] for key in ("new_members", "inviters", "coefficient", "rejected")}


class CoefficientsView(APIView):
    @extend_schema(
        summary="The fission coefficients",
        description="New members brought in through invitation links ÷ members who invited, from credited "
        "referrals whose invitee joined in the period: in total, per group (the group joined; a group rolls up "
        "its subtree), per live code, per campaign and per week. Only the groups you see count.",
        parameters=[
            OpenApiParameter("community", int, required=True),
            OpenApiParameter("period", str, enum=list(selectors.PERIODS), description="Days, or all (default 90)."),
        ],
        responses={200: CoefficientsSerializer},
    )
    def get(self, request: Request) -> Response:
        community = _community(request, request.query_params.get("community"))
        period = request.query_params.get("period", selectors.DEFAULT_PERIOD)
        if period not in selectors.PERIODS:
            raise ApplicationError(_("Choose 30, 90, 365 or all."), field="period")
        data = selectors.overview(request.user, community, period=period)
        body = {
            "community": community.pk,
            "period": period,
            "since": data["since"],
            "benchmark": data["benchmark"],
            "total": _figures(data["total"]),
            "groups": [
                {
                    "group": row["group"].pk,
                    "name": row["group"].name,
                    "parent": row["group"].parent_id,
                    "own_new_members": row["own"]["new_members"],
                    **_figures(row),
                }
                for row in data["groups"]
            ],
            "live_codes": [
                {"live_code": row["live_code"].pk, "name": row["live_code"].name, **_figures(row)}
                for row in data["live_codes"]
            ],
            "campaigns": [
                {
                    "campaign": row["campaign"].pk,
                    "name": row["campaign"].name,
                    "completions": row["completions"],
                    **_figures(row),
                }
                for row in data["campaigns"]
            ],
            "weekly": [{key: row[key] for key in WeekFiguresSerializer().fields} for row in data["weekly"]],
        }
        return Response(CoefficientsSerializer(body).data)


# --- Campaigns ------------------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), required=False, allow_null=True)
    goal_invites = serializers.IntegerField(min_value=1, max_value=1000)
    reward_points = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    reward_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "community", "name", "starts_at", "ends_at", "group", "goal_invites", "reward_text",
            "reward_points", "reward_url", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]


_CAMPAIGN_FIELDS = (
    "name", "starts_at", "ends_at", "group", "goal_invites", "reward_text", "reward_points", "reward_url", "is_active",
)  # fmt: skip


class CampaignFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Campaign
        fields = ["community", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Invitation campaigns of the communities you see"),
    retrieve=extend_schema(summary="An invitation campaign"),
    create=extend_schema(summary="Create an invitation campaign", description="Needs manage-the-tree on the hub."),
    partial_update=extend_schema(summary="Change an invitation campaign"),
    destroy=extend_schema(summary="Delete a campaign nobody has completed"),
)
class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.none()
    filterset_class = CampaignFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Campaign]:
        communities = groups_where(self.request.user, Capability.VIEW).values("community_id")
        return Campaign.objects.filter(community_id__in=communities).order_by("-starts_at", "pk")

    def _visible(self, request: Request, community: Community) -> None:
        if not selectors.visible_groups(request.user, community).exists():
            raise Http404

    def create(self, request: Request, *args, **kwargs) -> Response:
        values = CampaignSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        community = values.validated_data["community"]
        self._visible(request, community)
        _require_manage(request, community)
        data = {name: values.validated_data[name] for name in _CAMPAIGN_FIELDS if name in values.validated_data}
        campaign = campaign_save(community=community, **data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        campaign = self.get_object()
        _require_manage(request, campaign.community)
        values = CampaignSerializer(campaign, data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        if "community" in values.validated_data and values.validated_data["community"] != campaign.community:
            raise ApplicationError(_("A campaign stays in its community."), field="community")
        data = {name: getattr(campaign, name) for name in _CAMPAIGN_FIELDS}
        data.update({name: values.validated_data[name] for name in _CAMPAIGN_FIELDS if name in values.validated_data})
        campaign = campaign_save(community=campaign.community, campaign=campaign, **data)
        return Response(CampaignSerializer(campaign).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        campaign = self.get_object()
        _require_manage(request, campaign.community)
        campaign_delete(campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Referrals ------------------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class ReferralSerializer(serializers.ModelSerializer):
    inviter = PersonSerializer(read_only=True)
    invitee = PersonSerializer(read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id", "community", "inviter", "invitee", "membership", "group", "live_code", "campaign", "status",
            "reason", "matched_on", "matched_member", "joined_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReferralFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=ReferralStatus.choices)
    inviter = django_filters.NumberFilter(field_name="inviter_id", min_value=1, max_value=2**63 - 1)
    campaign = django_filters.NumberFilter(field_name="campaign_id", min_value=1, max_value=2**63 - 1)
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = Referral
        fields = ["community", "status", "inviter", "campaign", "group"]


@extend_schema_view(
    list=extend_schema(summary="Referrals into the groups you see, newest first"),
    retrieve=extend_schema(summary="A referral and its verdict"),
)
class ReferralViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReferralSerializer
    queryset = Referral.objects.none()
    filterset_class = ReferralFilter
    lookup_value_regex = ID_PATTERN
    ordering_fields = ["joined_at", "created_at"]

    def get_queryset(self) -> QuerySet[Referral]:
        visible = groups_where(self.request.user, Capability.VIEW)
        return (
            Referral.objects.filter(group__in=visible)
            .select_related("inviter", "invitee")
            .order_by("-joined_at", "-pk")
        )
