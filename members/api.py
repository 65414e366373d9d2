"""REST API for people and the funnel (``/api/v1/``).

Thin views: a serializer parses, one service acts, a serializer answers. Permissions come from
``members.permissions``, the same module the pages use. Outsiders get 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from members import selectors, services
from members.models import (
    Application,
    ApplicationStatus,
    LiveCode,
    Member,
    Membership,
    MembershipStatus,
    Role,
)
from members.permissions import can, grantable_roles, groups_where
from members.serializers import (
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
from subgroups.access import Capability, policy
from subgroups.api import ID_PATTERN
from subgroups.models import Group


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
        import json

        from django.db import connection

        if connection.vendor == "postgresql":
            return queryset.filter(tags__contains=[value])
        return queryset.filter(tags__icontains=json.dumps(value, ensure_ascii=False))


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

    def _can_edit(self, member: Member) -> bool:
        user = self.request.user
        if member.community.hub_id and can(user, Capability.MANAGE_MEMBERS, member.community.hub):
            return True
        return any(
            can(user, Capability.MANAGE_MEMBERS, membership.group)
            for membership in member.memberships.filter(status=MembershipStatus.ACTIVE).select_related("group")
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
        handles = [(handle["platform"], handle["external_id"]) for handle in values.pop("handles")]
        member = services.member_create(community=community, handles=handles, **values)
        if group is not None:
            services.membership_add(member=member, group=group, source="manual")
        return Response(MemberSerializer(member, context=self.get_serializer_context()).data, status=201)

    @extend_schema(summary="Change a member", request=MemberUpdateSerializer, responses={200: MemberSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        if not self._can_edit(member):
            raise PermissionDenied()
        values = self._input(MemberUpdateSerializer, request.data)
        owner = member.community_id in self.get_serializer_context()["personal_data_communities"]
        if not owner and ("phone" in values or "email" in values):
            raise PermissionDenied("Only the community's owners change phone numbers and e-mail addresses.")
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
        if role not in grantable_roles(request.user, group):
            raise PermissionDenied()
        if member.community_id != group.community_id:
            raise NotFound()
        if Membership.objects.filter(member=member, group=group, status=MembershipStatus.ACTIVE).exists():
            membership = services.role_grant(member=member, group=group, role=role)
        else:
            membership = services.membership_add(member=member, group=group, role=role, source=values["source"])
        return Response(MembershipSerializer(membership).data, status=201)

    @extend_schema(summary="Change a role", request=MembershipUpdateSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        values = self._input(MembershipUpdateSerializer, request.data)
        allowed = grantable_roles(request.user, membership.group)
        if values["role"] not in allowed or membership.role not in allowed:
            raise PermissionDenied()
        if not membership.is_active:
            raise NotFound()
        membership = services.role_grant(
            member=membership.member, group=membership.group, role=values["role"], role_until=values["role_until"]
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
        if membership.role not in grantable_roles(request.user, membership.group):
            raise PermissionDenied()
        values = self._input(MembershipEndSerializer, request.data)
        membership = services.membership_end(membership=membership, removed=values["removed"])
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
        from datetime import timedelta

        from django.utils import timezone

        now = timezone.now()
        if value == "1d":
            return queryset.filter(submitted_at__gt=now - timedelta(days=1))
        if value == "3d":
            return queryset.filter(submitted_at__lte=now - timedelta(days=1), submitted_at__gt=now - timedelta(days=3))
        return queryset.filter(submitted_at__lte=now - timedelta(days=3))


@extend_schema_view(
    list=extend_schema(summary="Applications to the groups you review, oldest first"),
    retrieve=extend_schema(summary="Get an application"),
)
class ApplicationViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
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


class PublicThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"


class ApplicationSubmitView(_ScopedContext, APIView):
    """The public application form, for bots: no credentials, rate-limited."""

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
        request=ApplicationSubmitSerializer,
        responses={201: ApplicationReceiptSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        values = self._input(ApplicationSubmitSerializer, request.data)
        group = Group.objects.filter(community__slug=values.pop("community"), slug=values.pop("group")).first()
        if group is None:
            raise NotFound()
        application = services.application_submit(
            group=group, ip_address=request.META.get("REMOTE_ADDR") or None, **values
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
    """An integration reports that the invited person joined; the invitation is the credential."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(
        summary="Accept an invitation: the person joins the group",
        request=InvitationAcceptSerializer,
        responses={200: JoinedSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        joined = services.invitation_accept(**serializer.validated_data)
        return Response(
            {
                "membership": MembershipSerializer(joined.membership).data,
                "group_join_link": joined.membership.group.join_link,
                "welcome": joined.welcome.body,
            }
        )


# --- Live codes -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Live codes of the groups you can see"),
    retrieve=extend_schema(summary="Get a live code"),
)
class LiveCodeViewSet(_ScopedContext, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
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
        )
        return Response(LiveCodeSerializer(code).data, status=201)


class LiveCodeResolveView(APIView):
    """What a scan does, for bots: seat one newcomer in the pool and say where."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PublicThrottle]
    throttle_scope = "public"

    @extend_schema(
        summary="Resolve a live code: seat a newcomer in a group with room",
        request=LiveCodeResolveSerializer,
        responses={200: JoinedSerializer},
        auth=[],
    )
    def post(self, request: Request, slug: str) -> Response:
        code = LiveCode.objects.filter(slug=slug).first()
        if code is None:
            raise NotFound()
        serializer = LiveCodeResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.livecode_scan(code=code)
        membership = services.livecode_join(code=code, **serializer.validated_data)
        return Response(
            {
                "membership": MembershipSerializer(membership).data,
                "group_join_link": membership.group.join_link,
                "welcome": welcome_text(membership.group, membership.member.display_name),
            }
        )
