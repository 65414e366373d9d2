"""The webhook deliveries, documented under the schema's ``webhooks`` (OpenAPI 3.1): what Canopy
POSTs to an integration's webhook URL, with the Standard Webhooks headers, and what it expects
back. ``outbox.services.payload`` builds the body; ``tests/outbox`` checks a real delivery
against this description."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from outbox.models import MessageKind
from subgroups.models import Platform


class WebhookGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_id = serializers.CharField(help_text="The group's id on its platform (empty when unknown).")


class WebhookRecipientSerializer(serializers.Serializer):
    platform = serializers.CharField(help_text="Empty: post in the group itself.")
    external_id = serializers.CharField(help_text="The member's id on the platform; empty: the whole group.")
    name = serializers.CharField()


class WebhookDeliverySerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[(f"outbox.{kind}", f"outbox.{kind}") for kind in MessageKind.values],
        help_text="Standard Webhooks' event type: `outbox.` and the message's kind.",
    )
    timestamp = serializers.DateTimeField(help_text="Standard Webhooks' envelope: when the message was queued.")
    id = serializers.IntegerField(help_text="The message's id: acknowledge or look it up under /api/v1/outbox/.")
    kind = serializers.ChoiceField(choices=MessageKind.choices)
    community = serializers.IntegerField()
    group = WebhookGroupSerializer(allow_null=True)
    recipient = WebhookRecipientSerializer()
    body = serializers.CharField(
        help_text="The text to send, in the member's (or community's) language. For `instruction`, JSON."
    )
    created_at = serializers.DateTimeField()


_WELCOME = {
    "type": "outbox.welcome",
    "timestamp": "2026-12-07T02:02:01.103000+00:00",
    "id": 311,
    "kind": "welcome",
    "community": 3,
    "group": {
        "id": 12,
        "name": "设计美学交流群",
        "platform": "wecom",
        "external_id": "wrOgQhDgAAcwMTB7YmDkbeBsgT_KAAAA",
    },
    "recipient": {"platform": "wecom", "external_id": "wmOgQhDgAAk3", "name": "王芳"},
    "body": "欢迎 王芳 加入「设计美学交流群」！从今天起你就是我们的一员了。",
    "created_at": "2026-12-07T02:02:01.103000+00:00",
}
_INSTRUCTION = {
    **_WELCOME,
    "type": "outbox.instruction",
    "id": 312,
    "kind": "instruction",
    "recipient": {"platform": "wecom", "external_id": "", "name": ""},
    "body": '{"action": "recall", "platform": "wecom", "message_id": "17338955"}',
}

outbox_message = OpenApiWebhook(
    name="outbox.message",
    decorator=extend_schema(
        summary="A message for the integration to deliver (or an instruction to carry out)",
        description=(
            "POSTed to the integration's webhook URL as soon as the message is queued, one message per request, "
            "signed per Standard Webhooks. A 2xx answer delivers it; anything else, or no answer in 10 s, is "
            "retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h and 24 h (each jittered by up to "
            "a fifth); 410 Gone disables the webhook. `instruction` messages carry JSON in `body`, e.g. "
            '`{"action": "recall", …}` to withdraw a blocked chat message.\n\n'
            "Headers: `webhook-id: msg_<message id>` (the same on every retry and resend: deduplicate on it), "
            "`webhook-timestamp: <unix seconds>`, `webhook-signature: v1,<base64 HMAC-SHA256 of "
            '"<id>.<timestamp>.<raw body>">` with the `whsec_` secret (two, space-separated, for a day after a '
            "rotation). Verify with any Standard Webhooks library, e.g. "
            '`Webhook("whsec_…").verify(body, headers)` in Python\'s `standardwebhooks`.'
        ),
        request=WebhookDeliverySerializer,
        examples=[
            OpenApiExample("A welcome to send privately", value=_WELCOME),
            OpenApiExample("Recall a blocked chat message", value=_INSTRUCTION),
        ],
        responses={
            200: OpenApiResponse(description="Delivered (any 2xx)."),
            410: OpenApiResponse(description="Gone: Canopy stops pushing to this URL until an owner enables it."),
        },
    ),
)
