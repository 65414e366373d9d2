"""REST API for communities and their group trees (``/api/v1/``).

Thin views: parse input with a serializer, call one service or selector, shape the output.
Querysets come from the scoped selectors, so another community's objects answer 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import JSONErrorsMixin, PlainTextRenderer
from subgroups import selectors, services
from subgroups.access import Capability, policy
from subgroups.models import Community, Group, GroupKind, GroupStatus, Platform
from subgroups.serializers import (
    ChangedCountSerializer,
    CommunityCreateSerializer,
    CommunitySerializer,
    CommunityUpdateSerializer,
    GroupCreateSerializer,
    GroupMoveSerializer,
    GroupSerializer,
    GroupUpdateSerializer,
    ProposedNameSerializer,
    ProposeNameQuerySerializer,
    TreeNodeSerializer,
)

ID_PATTERN = r"[0-9]{1,18}"


def _require(user, capability: str, group: Group) -> None:
    if not selectors.user_can(user, capability, group):
        raise PermissionDenied()


@extend_schema_view(
    list=extend_schema(summary="List the communities you can see"),
    retrieve=extend_schema(summary="Get a community"),
)
class CommunityViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Community.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = CommunitySerializer
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Community]:
        return selectors.communities_for_user(self.request.user)

    @extend_schema(
        summary="Create a community with its hub",
        request=CommunityCreateSerializer,
        responses={201: CommunitySerializer},
    )
    def create(self, request: Request) -> Response:
        if not policy().can_create_community(request.user):
            raise PermissionDenied()
        data = CommunityCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        community = services.community_create(
            name=values["name"],
            slug=values.get("slug"),
            platform=values["platform"],
            capacity=values.get("capacity"),
            external_id=values["external_id"],
            time_zone=values.get("time_zone"),
            language=values.get("language"),
            description=values["description"],
            rules_text=values["rules"],
            creator=request.user,
        )
        return Response(CommunitySerializer(community).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a community's settings",
        request=CommunityUpdateSerializer,
        responses={200: CommunitySerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        community = self.get_object()
        _require(request.user, Capability.MANAGE_TREE, community.hub)
        data = CommunityUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        community = services.community_update(community=community, **data.validated_data)
        return Response(CommunitySerializer(community).data)

    @extend_schema(
        summary="Propose the next group name by the naming convention",
        description="`<hub>-<attribute>小群<NN>`, numbered per attribute, e.g. 互联网从业者交流群-摄影小群01.",
        parameters=[ProposeNameQuerySerializer],
        responses={200: ProposedNameSerializer},
    )
    @action(detail=True, methods=["get"], url_path="propose-name")
    def propose_name(self, request: Request, pk: str) -> Response:
        community = self.get_object()
        query = ProposeNameQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        name = services.group_propose_name(community=community, attribute=query.validated_data["attribute"])
        return Response({"name": name})


class GroupFilter(django_filters.FilterSet):
    community = django_filters.NumberFilter(field_name="community_id", min_value=1, max_value=2**63 - 1)
    community_slug = django_filters.CharFilter(field_name="community__slug", max_length=60)
    parent = django_filters.NumberFilter(field_name="parent_id", min_value=1, max_value=2**63 - 1)
    kind = django_filters.ChoiceFilter(choices=GroupKind.choices)
    status = django_filters.ChoiceFilter(choices=GroupStatus.choices)
    platform = django_filters.ChoiceFilter(choices=Platform.choices)

    class Meta:
        model = Group
        fields = ["community", "community_slug", "parent", "kind", "status", "platform"]


@extend_schema_view(
    list=extend_schema(summary="List the groups you can see, in tree order"),
    retrieve=extend_schema(summary="Get a group"),
)
class GroupViewSet(
    JSONErrorsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Group.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = GroupSerializer
    filterset_class = GroupFilter
    search_fields = ["name", "slug", "external_id"]
    ordering_fields = ["name", "member_count", "capacity", "created_at"]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Group]:
        return selectors.groups_for_user(self.request.user).order_by("community_id", "tree_id", "lft")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["visible_groups"] = selectors.groups_for_user(self.request.user)
        return context

    def _input(self, serializer_class, data):
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(summary="Create a sub-group", request=GroupCreateSerializer, responses={201: GroupSerializer})
    def create(self, request: Request) -> Response:
        values = self._input(GroupCreateSerializer, request.data)
        parent = values.pop("parent")
        _require(request.user, Capability.MANAGE_TREE, parent)
        values["rules_text"] = values.pop("rules")
        group = services.group_create_child(parent=parent, **values)
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a group's name or settings",
        description="Moving goes through `move/`; archiving through `archive/` and `restore/`.",
        request=GroupUpdateSerializer,
        responses={200: GroupSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        _require(request.user, Capability.MANAGE_TREE, group)
        values = self._input(GroupUpdateSerializer, request.data)
        if "rules" in values:
            values["rules_text"] = values.pop("rules")
        group = services.group_update(group=group, **values)
        return Response(GroupSerializer(group).data)

    @extend_schema(summary="The group and its sub-groups as nested JSON", responses={200: TreeNodeSerializer})
    @action(detail=True, methods=["get"])
    def tree(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        return Response(selectors.nest(selectors.subtree(group))[0])

    @extend_schema(
        summary="The group and its sub-groups as a Mermaid graph TD",
        responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Mermaid source")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[PlainTextRenderer, JSONRenderer])
    def mermaid(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        return Response(selectors.mermaid(selectors.subtree(group)), content_type="text/plain; charset=utf-8")

    @extend_schema(
        summary="Move a group and its subtree under another group",
        request=GroupMoveSerializer,
        responses={200: GroupSerializer},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        _require(request.user, Capability.MANAGE_TREE, group)
        values = self._input(GroupMoveSerializer, request.data)
        _require(request.user, Capability.MANAGE_TREE, values["parent"])
        group = services.group_move(group=group, new_parent=values["parent"])
        return Response(GroupSerializer(group).data)

    @extend_schema(summary="Archive a group and its subtree", request=None, responses={200: ChangedCountSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        _require(request.user, Capability.MANAGE_TREE, group)
        return Response({"changed": services.group_archive(group=group)})

    @extend_schema(
        summary="Restore an archived group and its subtree", request=None, responses={200: ChangedCountSerializer}
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        _require(request.user, Capability.MANAGE_TREE, group)
        return Response({"changed": services.group_restore(group=group)})
