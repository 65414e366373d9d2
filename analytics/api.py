"""The analytics API: integrations push activity; bots and dashboards read group numbers."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import EventKind, GroupDay
from analytics.services.ingest import MAX_BATCH, events_ingest
from analytics.services.metrics import local_today
from core.api import ErrorSerializer
from core.errors import ApplicationError
from members.permissions import groups_where
from subgroups.access import Capability
from subgroups.models import Platform


class EventInSerializer(serializers.Serializer):
    """One activity event (documentation: the view checks items itself, one by one)."""

    type = serializers.ChoiceField(choices=EventKind.choices)
    group = serializers.IntegerField(required=False, help_text="The group's Canopy id, or:")
    group_platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    group_external_id = serializers.CharField(required=False, help_text="The group's id on its platform.")
    platform = serializers.ChoiceField(
        choices=Platform.choices, required=False, help_text="The member's platform; default: the group's."
    )
    user_id = serializers.CharField(max_length=128, help_text="The member's id on the platform.")
    user_name = serializers.CharField(max_length=100, required=False, help_text="Names a member seen the first time.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")
    event_id = serializers.CharField(max_length=128, help_text="The integration's id for the event: the dedupe key.")
    text = serializers.CharField(required=False, help_text="Scanned by the word engine; kept as length and hash.")
    is_question = serializers.BooleanField(required=False, help_text="Default: guessed from the text.")
    reply_to = serializers.CharField(max_length=128, required=False, help_text="The event id this one answers.")
    value = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, help_text="E.g. a purchase.")


class EventBatchSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, help_text=f"At most {MAX_BATCH}.")


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField())


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Already stored: a retried batch changes nothing.")
    rejected = serializers.IntegerField()
    members_created = serializers.IntegerField()
    errors = RejectedEventSerializer(many=True)


class EventsView(APIView):
    api_area = "events"

    @extend_schema(
        summary="Push a batch of activity events (integrations)",
        description=(
            f"Up to {MAX_BATCH} events. Each is checked on its own: the good ones are stored, the bad ones are "
            "listed with their errors, and events already stored count as duplicates. A batch with no storable "
            "event answers 400 with every item's errors. Unknown members are created. Needs the manage-members "
            "and manage-content capabilities on each event's group; other groups read as unknown."
        ),
        request=EventBatchSerializer,
        responses={200: IngestResultSerializer, 400: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A message, a reply and a join from a WeCom group",
                request_only=True,
                value={
                    "events": [
                        {
                            "event_id": "wecom:wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA:msg:17338912",
                            "type": "message",
                            "group_platform": "wecom",
                            "group_external_id": "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA",
                            "user_id": "wmOgQhDgAAuXFOhLTO4-NEMq2WTzmlvA",
                            "user_name": "林嘉琪",
                            "occurred_at": "2026-12-07T09:30:12+08:00",
                            "text": "请问周末的分享会几点开始？",
                            "is_question": True,
                        },
                        {
                            "event_id": "wecom:wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA:msg:17338930",
                            "type": "reply",
                            "group_platform": "wecom",
                            "group_external_id": "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA",
                            "user_id": "wmOgQhDgAAs1Fj0CVZ2fHnX5rWmzYqPg",
                            "user_name": "陈思远",
                            "occurred_at": "2026-12-07T09:31:40+08:00",
                            "text": "晚上八点，线上。",
                            "reply_to": "wecom:wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA:msg:17338912",
                        },
                        {
                            "event_id": "wecom:wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA:join:wmOgQhDgAAk3",
                            "type": "join",
                            "group_platform": "wecom",
                            "group_external_id": "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA",
                            "user_id": "wmOgQhDgAAk3",
                            "user_name": "王芳",
                            "occurred_at": "2026-12-07T10:02:00+08:00",
                        },
                    ]
                },
            ),
            OpenApiExample(
                "Two stored, one already stored, a new member created",
                response_only=True,
                status_codes=["200"],
                value={"accepted": 2, "duplicates": 1, "rejected": 0, "members_created": 1, "errors": []},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        raw_events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(raw_events, list):
            raise ApplicationError(_('Send {"events": [ … ]}.'), field="events")
        if not raw_events:
            raise ApplicationError(_("The batch is empty."), field="events")
        if len(raw_events) > MAX_BATCH:
            raise ApplicationError(
                _("At most %(limit)d events a batch; this one has %(count)d.")
                % {"limit": MAX_BATCH, "count": len(raw_events)},
                field="events",
            )
        groups = groups_where(request.user, Capability.MANAGE_MEMBERS) & groups_where(
            request.user, Capability.MANAGE_CONTENT
        )
        result = events_ingest(raw_events=raw_events, groups=groups.select_related("community"))
        body = result.as_dict()
        if result.rejected and not (result.accepted or result.duplicates):
            fields = {"events": {str(error["index"]): error["fields"] for error in result.errors}}
            return Response(
                {
                    "code": "invalid",
                    "message": _("No event in the batch could be stored."),
                    "extra": {"fields": fields, **body},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body)


class GroupDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupDay
        fields = [
            "day", "members", "joins", "leaves", "active_members", "speakers", "interactors", "messages",
            "dau_rate", "speaking_rate_day", "speaking_rate_week", "speaking_rate_month", "messages_per_member",
            "quit_rate_week", "quit_rate_month", "interaction_rate", "unanswered_questions", "grade",
            "failed_checks",
        ]  # fmt: skip


class GroupMetricsView(APIView):
    @extend_schema(
        summary="A group's daily numbers",
        description="One row per local day, oldest first; 90 days by default, at most 400.",
        parameters=[OpenApiParameter("days", int, description="How many days back from today (1–400).")],
        responses={200: GroupDaySerializer(many=True), 404: OpenApiResponse(description="No such group.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        group = get_object_or_404(groups_where(request.user, Capability.VIEW), pk=pk)
        raw = request.query_params.get("days", "90")
        if not raw.isdigit() or not 1 <= int(raw) <= 400:
            raise ApplicationError(_("A whole number of days from 1 to 400."), field="days")
        since = local_today(group.community) - timedelta(days=int(raw))
        rows = GroupDay.objects.filter(group=group, day__gt=since).order_by("day")
        return Response(GroupDaySerializer(rows, many=True).data)
