"""REST API for people and the funnel (``/api/v1/``).

Thin views: a serializer parses, one service acts, a serializer answers. Permissions come from
``members.permissions``, the same module the pages use. Outsiders get 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.net import client_ip
from core.throttling import ScopedRateThrottle
from members import selectors, services
from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    LiveCode,
    Member,
    Membership,
    MembershipStatus,
    Role,
)
from members.permissions import (
    can,
    can_change_role,
    can_edit_member,
    can_edit_standing,
    can_end_membership,
    groups_where,
)
from members.serializers import (
    ApplicationCreateSerializer,
    ApplicationReceiptSerializer,
    ApplicationSerializer,
    ApplicationSubmitSerializer,
    BulkApproveResultSerializer,
    BulkApproveSerializer,
    InvitationAcceptSerializer,
    InvitationSerializer,
    JoinedSerializer,
    LiveCodeCreateSerializer,
    LiveCodeResolveSerializer,
    LiveCodeSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MembershipCreateSerializer,
    MembershipEndSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    MemberUpdateSerializer,
    QuestionSerializer,
    RejectSerializer,
)
from members.services.funnel import welcome_text
from members.services.referrals import member_by_invite_code
from subgroups.access import Capability, policy
from subgroups.api import ID_PATTERN
from subgroups.models import Group
from subgroups.selectors import fresh_join_link


def _require(user, capability: str, group: Group) -> None:
    if not can(user, capability, group):
        raise PermissionDenied()


class _ScopedContext:
    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        user = self.request.user
        context["visible_groups"] = groups_where(user, Capability.VIEW)
        context["visible_members"] = selectors.members_visible_to(user)
        context["personal_data_communities"] = selectors.personal_data_communities(user)
        return context

    def _input(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


# --- Members --------------------------------------------------------------------------------


class MemberFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    group = django_filters.NumberFilter(method="in_group", min_value=1, max_value=2**63 - 1)
    role = django_filters.ChoiceFilter(choices=Role.choices, method="with_role")
    tag = django_filters.CharFilter(method="with_tag", max_length=30)
    city = django_filters.CharFilter(field_name="city", max_length=50)

    class Meta:
        model = Member
        fields = ["community", "group", "role", "tag", "city"]

    def in_group(self, queryset, name, value):
        return queryset.filter(memberships__group_id=value, memberships__status=MembershipStatus.ACTIVE).distinct()

    def with_role(self, queryset, name, value):
        return queryset.filter(memberships__role=value, memberships__status=MembershipStatus.ACTIVE).distinct()

    def with_tag(self, queryset, name, value):
        return selectors.with_tag(queryset, value)


@extend_schema_view(
    list=extend_schema(summary="List the members you can see"),
    retrieve=extend_schema(summary="Get a member"),
)
class MemberViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Member.objects.none()
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    search_fields = ["display_name", "city", "handles__external_id"]
    ordering_fields = ["display_name", "joined_at", "purchase_count"]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Member]:
        return (
            selectors.members_visible_to(self.request.user).prefetch_related("handles").order_by("display_name", "pk")
        )

    @extend_schema(summary="Add a member", request=MemberCreateSerializer, responses={201: MemberSerializer})
    def create(self, request: Request) -> Response:
        values = self._input(MemberCreateSerializer, request.data)
        community = (
            policy().visible_communities(request.user).select_related("hub").filter(pk=values.pop("community")).first()
        )
        if community is None:
            raise NotFound()
        group = values.pop("group", None)
        if group is not None and group.community_id != community.pk:
            raise NotFound()
        _require(request.user, Capability.MANAGE_MEMBERS, group or community.hub)
        if not can_edit_standing(request.user, community) and (values["purchase_count"] or values["annual_member"]):
            raise PermissionDenied("Only those who manage the whole community set purchases and annual membership.")
        handles = [(handle["platform"], handle["external_id"]) for handle in values.pop("handles")]
        member = services.member_create(community=community, handles=handles, group=group, by=request.user, **values)
        return Response(MemberSerializer(member, context=self.get_serializer_context()).data, status=201)

    @extend_schema(summary="Change a member", request=MemberUpdateSerializer, responses={200: MemberSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        if not can_edit_member(request.user, member):
            raise PermissionDenied()
        values = self._input(MemberUpdateSerializer, request.data)
        owner = member.community_id in self.get_serializer_context()["personal_data_communities"]
        if not owner and ("phone" in values or "email" in values):
            raise PermissionDenied("Only the community's owners change phone numbers and e-mail addresses.")
        if not can_edit_standing(request.user, member.community) and (
            "purchase_count" in values or "annual_member" in values
        ):
            raise PermissionDenied("Only those who manage the whole community change purchases and annual membership.")
        member = services.member_update(member=member, **values)
        return Response(MemberSerializer(member, context=self.get_serializer_context()).data)


# --- Memberships ----------------------------------------------------------------------------


class MembershipFilter(django_filters.FilterSet):
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=2**63 - 1)
    member = django_filters.NumberFilter(field_name="member_id", min_value=1, max_value=2**63 - 1)
    role = django_filters.ChoiceFilter(choices=Role.choices)
    status = django_filters.ChoiceFilter(choices=MembershipStatus.choices)

    class Meta:
        model = Membership
        fields = ["group", "member", "role", "status"]


@extend_schema_view(
    list=extend_schema(summary="List memberships in the groups you can see"),
    retrieve=extend_schema(summary="Get a membership"),
)
class MembershipViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    search_fields = ["member__display_name", "group__name"]
    ordering_fields = ["joined_at", "role"]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Membership]:
        visible = groups_where(self.request.user, Capability.VIEW)
        return (
            Membership.objects.filter(group__in=visible).select_related("member", "group").order_by("-joined_at", "pk")
        )

    @extend_schema(
        summary="Add a member to a group, or give them a role there",
        description="A role covers the group's whole subtree. Owners and core admins are named by owners only.",
        request=MembershipCreateSerializer,
        responses={201: MembershipSerializer},
    )
    def create(self, request: Request) -> Response:
        values = self._input(MembershipCreateSerializer, request.data)
        member, group, role = values["member"], values["group"], values["role"]
        if member.community_id != group.community_id:
            raise NotFound()
        if not can_change_role(request.user, member=member, group=group, role=role):
            raise PermissionDenied()
        membership = services.role_grant(
            member=member, group=group, role=role, source=values["source"], by=request.user
        )
        return Response(MembershipSerializer(membership).data, status=201)

    @extend_schema(summary="Change a role", request=MembershipUpdateSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        values = self._input(MembershipUpdateSerializer, request.data)
        if not membership.is_active:
            raise NotFound()
        if not can_change_role(request.user, member=membership.member, group=membership.group, role=values["role"]):
            raise PermissionDenied()
        membership = services.role_grant(
            member=membership.member,
            group=membership.group,
            role=values["role"],
            role_until=values["role_until"],
            by=request.user,
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        summary="End a membership (the member left, or was removed)",
        request=MembershipEndSerializer,
        responses={200: MembershipSerializer},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        if not can_end_membership(request.user, membership):
            raise PermissionDenied()
        values = self._input(MembershipEndSerializer, request.data)
        membership = services.membership_end(membership=membership, removed=values["removed"], by=request.user)
        return Response(MembershipSerializer(membership).data)


# --- Applications ---------------------------------------------------------------------------


class ApplicationFilter(django_filters.FilterSet):
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=ApplicationStatus.choices)
    age = django_filters.ChoiceFilter(
        choices=[("1d", "under a day"), ("3d", "1–3 days"), ("older", "over 3 days")], method="by_age"
    )

    class Meta:
        model = Application
        fields = ["group", "status", "age"]

    def by_age(self, queryset, name, value):
        return selectors.with_age(queryset, value)


@extend_schema_view(
    list=extend_schema(summary="Applications to the groups you review, oldest first"),
    retrieve=extend_schema(summary="Get an application"),
)
class ApplicationViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    api_area = "funnel"
    queryset = Application.objects.none()
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    search_fields = ["display_name", "city"]
    ordering_fields = ["submitted_at"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Application]:
        reviewable = groups_where(self.request.user, Capability.REVIEW_APPLICATIONS)
        return (
            Application.objects.filter(group__in=reviewable)
            .select_related("group", "decided_by", "invitation")
            .order_by("submitted_at", "pk")
        )

    @extend_schema(
        summary="Submit an application for a platform account (integrations)",
        description="A bot that saw someone ask to join submits for them. Its platform account identifies the "
        "member (so tier groups can screen on their purchases). Needs the review capability on the group.",
        request=ApplicationCreateSerializer,
        responses={201: ApplicationSerializer},
    )
    def create(self, request: Request) -> Response:
        values = self._input(ApplicationCreateSerializer, request.data)
        group = values.pop("group")
        _require(request.user, Capability.REVIEW_APPLICATIONS, group)
        application = services.application_submit(group=group, verified=True, **values)
        return Response(ApplicationSerializer(application, context=self.get_serializer_context()).data, status=201)

    @extend_schema(summary="Approve, and create the invitation", request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        application = self.get_object()
        invitation = services.application_approve(application=application, by=request.user)
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(summary="Reject, with a reason", request=RejectSerializer, responses={200: ApplicationSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        application = self.get_object()
        values = self._input(RejectSerializer, request.data)
        application = services.application_reject(application=application, by=request.user, reason=values["reason"])
        return Response(ApplicationSerializer(application, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Approve several applications",
        request=BulkApproveSerializer,
        responses={200: BulkApproveResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def bulk_approve(self, request: Request) -> Response:
        values = self._input(BulkApproveSerializer, request.data)
        applications = list(self.get_queryset().filter(pk__in=values["ids"], status=ApplicationStatus.PENDING))
        approved, skipped = services.applications_bulk_approve(applications=applications, by=request.user)
        return Response({"approved": approved, "skipped": skipped})


_REF_HELP = (
    "A member's personal invitation code (the `<code>` of `/i/<code>/`): they invited this person. "
    "An unknown code, or one of another community, is ignored."
)


class ReferredApplicationSubmitSerializer(ApplicationSubmitSerializer):
    ref = serializers.CharField(max_length=32, required=False, allow_blank=True, default="", help_text=_REF_HELP)


class ReferredLiveCodeResolveSerializer(LiveCodeResolveSerializer):
    ref = serializers.CharField(max_length=32, required=False, allow_blank=True, default="", help_text=_REF_HELP)


class PublicThrottle(ScopedRateThrottle):  # fails open when the cache is down
    scope_attr = "throttle_scope"


class ApplicationSubmitView(_ScopedContext, APIView):
    """The public application form, for bots: no credentials, rate-limited."""

    api_area = "funnel"

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    def get_serializer_context(self) -> dict:
        return {"request": self.request}

    @extend_schema(
        summary="Submit an application (public)",
        description="Answers use the keys from the group's questionnaire (`q_<id>`). "
        "429 when an address or a contact sends too many.",
        request=ReferredApplicationSubmitSerializer,
        responses={201: ApplicationReceiptSerializer},
        examples=[
            OpenApiExample(
                "An application from a mini program",
                request_only=True,
                value={
                    "community": "internet",
                    "group": "design",
                    "display_name": "陈思远",
                    "phone": "13812345678",
                    "city": "上海",
                    "platform": "wecom",
                    "external_user_id": "wmOgQhDgAAs1",
                    "answers": {"q_12": ["设计", "产品"], "q_13": "50-150人"},
                    "ref": "K7Q2MX",
                },
            ),
            OpenApiExample(
                "Received, waiting for review",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": 58,
                    "status": "pending",
                    "status_url": "https://canopy.example.com/applications/3q2mKx0vN4bq8yTg1hZ0sQ/",
                    "decision_reason": "",
                },
            ),
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        values = self._input(ReferredApplicationSubmitSerializer, request.data)
        group = (
            Group.objects.filter(community__slug=values.pop("community"), slug=values.pop("group"))
            .select_related("community")
            .first()
        )
        if group is None:
            raise NotFound()
        ref = values.pop("ref")
        inviter = member_by_invite_code(community=group.community, code=ref) if ref else None
        application = services.application_submit(
            group=group, ip_address=client_ip(request), referred_by=inviter, **values
        )
        return Response(
            {
                "id": application.pk,
                "status": application.status,
                "status_url": reverse("members:application_status", args=[application.status_token]),
                "decision_reason": application.decision_reason,
            },
            status=status.HTTP_201_CREATED,
        )


class QuestionnaireView(APIView):
    api_area = "funnel"
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(
        summary="A group's screening questions (public)", responses={200: QuestionSerializer(many=True)}, auth=[]
    )
    def get(self, request: Request, community: str, group: str) -> Response:
        target = get_object_or_404(Group, community__slug=community, slug=group, parent__isnull=False)
        return Response(QuestionSerializer(target.questions.order_by("position", "pk"), many=True).data)


class InvitationAcceptView(APIView):
    """An integration reports that the invited person joined, from their platform account."""

    api_area = "funnel"

    @extend_schema(
        summary="Accept an invitation: the person joins the group",
        description="For integrations: the platform account becomes the member's. Needs the review or "
        "manage-members capability on the group (people accept on the invitation page instead).",
        request=InvitationAcceptSerializer,
        responses={200: JoinedSerializer},
        examples=[
            OpenApiExample(
                "The invited person joined on WeCom",
                request_only=True,
                value={"token": "u7bQ0Yp3lHk9cX2sVfRt1nWm", "platform": "wecom", "external_user_id": "wmOgQhDgAAs1"},
            ),
            OpenApiExample(
                "The membership and the welcome to send",
                response_only=True,
                status_codes=["200"],
                value={
                    "membership": {
                        "id": 904,
                        "member": 1043,
                        "member_name": "陈思远",
                        "group": 12,
                        "group_name": "设计美学交流群",
                        "role": "member",
                        "status": "active",
                        "source": "application",
                        "invited_by": None,
                        "live_code": None,
                        "joined_at": "2026-12-07T02:10:00Z",
                        "left_at": None,
                        "role_since": "2026-12-07T02:10:00Z",
                        "role_until": None,
                    },
                    "group_join_link": "https://work.weixin.qq.com/gm/3f2a9c",
                    "welcome": "欢迎 陈思远 加入「设计美学交流群」！从今天起你就是我们的一员了。",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = Invitation.objects.filter(token=serializer.validated_data["token"]).select_related("group").first()
        if invitation is None or not can(request.user, Capability.REVIEW_APPLICATIONS, invitation.group):
            raise NotFound()
        joined = services.invitation_accept(verified=True, **serializer.validated_data)
        return Response(
            {
                "membership": MembershipSerializer(joined.membership).data,
                "group_join_link": fresh_join_link(joined.membership.group),
                "welcome": joined.welcome.body,
            }
        )


# --- Live codes -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Live codes of the groups you can see"),
    retrieve=extend_schema(summary="Get a live code"),
)
class LiveCodeViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    api_area = "funnel"
    queryset = LiveCode.objects.none()
    serializer_class = LiveCodeSerializer
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[LiveCode]:
        visible = groups_where(self.request.user, Capability.VIEW)
        return LiveCode.objects.filter(parent__in=visible).order_by("name", "pk")

    @extend_schema(summary="Create a live code", request=LiveCodeCreateSerializer, responses={201: LiveCodeSerializer})
    def create(self, request: Request) -> Response:
        values = self._input(LiveCodeCreateSerializer, request.data)
        parent = values["parent"]
        _require(request.user, Capability.MANAGE_TREE, parent)
        code = services.livecode_create(
            community=parent.community,
            name=values["name"],
            parent=parent,
            attribute=values["attribute"],
            groups=values["groups"],
            kind=values["kind"],
            join_limit=values["join_limit"],
            max_groups=values["max_groups"],
            guide=values["guide"],
        )
        return Response(LiveCodeSerializer(code).data, status=201)


class LiveCodeResolveView(APIView):
    """What a scan does, for bots: seat one newcomer in the pool and say where."""

    api_area = "funnel"

    @extend_schema(
        summary="Resolve a live code: seat a newcomer in a group with room",
        description="For integrations, whose platform account identifies the newcomer (a second scan by the "
        "same account keeps its group). Needs the view capability on the code's groups.",
        request=ReferredLiveCodeResolveSerializer,
        responses={200: JoinedSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        code = LiveCode.objects.filter(slug=slug).select_related("parent", "community").first()
        if code is None or not can(request.user, Capability.VIEW, code.parent):
            raise NotFound()
        serializer = ReferredLiveCodeResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        ref = values.pop("ref")
        inviter = member_by_invite_code(community=code.community, code=ref) if ref else None
        services.livecode_scan(code=code)
        membership = services.livecode_join(code=code, verified=True, invited_by=inviter, **values)
        return Response(
            {
                "membership": MembershipSerializer(membership).data,
                "group_join_link": fresh_join_link(membership.group),
                "welcome": welcome_text(membership.group, membership.member.display_name, membership.member),
            }
        )
