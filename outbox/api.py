"""The outbox for integrations: poll the pending messages of the groups you serve, and
acknowledge each delivery (twice is harmless)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from outbox.models import MessageKind, MessageStatus, OutboundMessage
from outbox.services import for_polling, message_ack
from subgroups.access import Capability, policy

ID_PATTERN = r"[0-9]{1,18}"


class OutboundMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboundMessage
        fields = [
            "id",
            "community",
            "group",
            "kind",
            "recipient_platform",
            "recipient_external_id",
            "recipient_name",
            "body",
            "status",
            "attempts",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class AckSerializer(serializers.Serializer):
    delivered = serializers.BooleanField(default=True, help_text="False: could not deliver (say why in error).")
    error = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class OutboxFilter(django_filters.FilterSet):
    group = django_filters.NumberFilter(field_name="group_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)
    kind = django_filters.ChoiceFilter(choices=MessageKind.choices)

    class Meta:
        model = OutboundMessage
        fields = ["group", "status", "kind"]


# A queued welcome, as the outbox lists it (the schema's examples).
_WELCOME_EXAMPLE = {
    "id": 311,
    "community": 3,
    "group": 12,
    "kind": "welcome",
    "recipient_platform": "wecom",
    "recipient_external_id": "wmOgQhDgAAk3",
    "recipient_name": "王芳",
    "body": "欢迎 王芳 加入「设计美学交流群」！从今天起你就是我们的一员了。",
    "status": "pending",
    "attempts": 0,
    "created_at": "2026-12-07T02:02:01Z",
    "delivered_at": None,
}


@extend_schema_view(
    list=extend_schema(
        summary="Messages to deliver in the groups you serve",
        description="By default the pending ones that no webhook integration pushes, oldest first; `status` "
        "lists any status.",
        examples=[
            OpenApiExample(
                "A welcome to send privately",
                response_only=True,
                status_codes=["200"],
                value=_WELCOME_EXAMPLE,
            )
        ],
    ),
    retrieve=extend_schema(summary="Get a message"),
)
class OutboxViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    api_scopes = {"ack": "outbox:ack"}
    queryset = OutboundMessage.objects.none()
    serializer_class = OutboundMessageSerializer
    filterset_class = OutboxFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[OutboundMessage]:
        visible = policy().visible_groups(self.request.user)
        messages = OutboundMessage.objects.filter(group__in=visible)
        if self.action == "list" and "status" not in self.request.query_params:
            messages = for_polling(messages.filter(status=MessageStatus.PENDING))
        return messages.order_by("created_at", "pk")

    @extend_schema(
        summary="Acknowledge a delivery",
        description="Needs the manage-content capability on the message's group (the bot's user is an admin "
        "there): a delivered message is never sent again.",
        request=AckSerializer,
        responses={200: OutboundMessageSerializer},
        examples=[
            OpenApiExample("Delivered", request_only=True, value={"delivered": True}),
            OpenApiExample(
                "The platform refused it",
                request_only=True,
                value={"delivered": False, "error": "errcode 41059: external user not in group"},
            ),
            OpenApiExample(
                "The message, now delivered",
                response_only=True,
                status_codes=["200"],
                value={
                    **_WELCOME_EXAMPLE,
                    "status": "delivered",
                    "attempts": 1,
                    "delivered_at": "2026-12-07T02:02:04Z",
                },
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def ack(self, request: Request, pk: str) -> Response:
        message = self.get_object()
        if message.group is None or not policy().has_capability(request.user, Capability.MANAGE_CONTENT, message.group):
            raise PermissionDenied()
        values = AckSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        message = message_ack(message=message, **values.validated_data)
        return Response(OutboundMessageSerializer(message).data)
