"""Leaderboards for bots ("每周积分王" posts) and dashboards: a group's members by points in a
week or month, and the group's siblings by health and activity."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from engagement import leaderboards as boards
from members.permissions import groups_where
from subgroups.access import Capability

WINDOW_PARAMETERS = [
    OpenApiParameter("period", str, enum=list(boards.PERIODS), description="A calendar week (Mon–Sun) or month."),
    OpenApiParameter("which", str, enum=list(boards.WHICH), description="This period, or the one before."),
]


class WindowSerializer(serializers.Serializer):
    period = serializers.CharField()
    first = serializers.DateField()
    last = serializers.DateField()


class LeaderRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    member = serializers.IntegerField(source="member_id")
    name = serializers.CharField()
    points = serializers.IntegerField(help_text="Points earned in the window; spends don't count.")
    messages = serializers.IntegerField()
    check_ins = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    window = WindowSerializer()
    rows = LeaderRowSerializer(many=True)


class SiblingRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    group = serializers.IntegerField(source="group.pk")
    name = serializers.CharField(source="group.name")
    members = serializers.IntegerField()
    grade = serializers.CharField()
    health = serializers.IntegerField(allow_null=True)
    health_rank = serializers.IntegerField()
    activity_rank = serializers.IntegerField()
    messages_per_member = serializers.FloatField(allow_null=True)
    speaking_rate_week = serializers.FloatField(allow_null=True)
    points_per_member = serializers.FloatField()
    check_in_rate = serializers.FloatField()


class SiblingRankingSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    window = WindowSerializer()
    rows = SiblingRowSerializer(many=True)


def _window(request: Request, group) -> boards.Window:
    period = request.query_params.get("period", "week")
    which = request.query_params.get("which", "current")
    if period not in boards.PERIODS:
        raise ApplicationError(_("Choose week or month."), field="period")
    if which not in boards.WHICH:
        raise ApplicationError(_("Choose current or previous."), field="which")
    return boards.window_for(group.community, period=period, which=which)


class LeaderboardView(APIView):
    @extend_schema(
        summary="A group's leaderboard",
        description="The members of the group and the groups under it, by points earned in the window, then "
        "messages. Equal scores share a rank.",
        parameters=[*WINDOW_PARAMETERS, OpenApiParameter("limit", int, description="1–200, 50 by default.")],
        responses={200: LeaderboardSerializer, 400: OpenApiResponse(description="A bad period or limit.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        group = get_object_or_404(groups_where(request.user, Capability.VIEW).select_related("community"), pk=pk)
        window = _window(request, group)
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 200:
            raise ApplicationError(_("A whole number from 1 to 200."), field="limit")
        rows = boards.member_leaderboard(group=group, window=window, limit=int(raw))
        return Response(LeaderboardSerializer({"group": group.pk, "window": window, "rows": rows}).data)


class SiblingRankingView(APIView):
    @extend_schema(
        summary="The group among its siblings",
        description="Its sibling groups (the hub's children for the hub) that you may see, by health grade, then "
        "messages per member; points and check-ins per member are for the window.",
        parameters=WINDOW_PARAMETERS,
        responses={200: SiblingRankingSerializer, 400: OpenApiResponse(description="A bad period.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        visible = groups_where(request.user, Capability.VIEW)
        group = get_object_or_404(visible.select_related("community"), pk=pk)
        window = _window(request, group)
        rows = boards.sibling_ranking(groups=boards.sibling_groups(group, visible), window=window)
        return Response(SiblingRankingSerializer({"group": group.pk, "window": window, "rows": rows}).data)
