from __future__ import annotations

from django.db import IntegrityError, transaction

from outbox.models import OutboundMessage
from subgroups.models import Group


def message_enqueue(
    *,
    group: Group,
    kind: str,
    body: str,
    recipient_platform: str = "",
    recipient_external_id: str = "",
    recipient_name: str = "",
    dedupe_key: str | None = None,
) -> OutboundMessage:
    """Queue a message for the group's integration. With a ``dedupe_key`` a second call
    returns the first message instead of queueing another."""
    if dedupe_key:
        existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return OutboundMessage.objects.create(
                community_id=group.community_id,
                group=group,
                kind=kind,
                body=body,
                recipient_platform=recipient_platform,
                recipient_external_id=recipient_external_id,
                recipient_name=recipient_name,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key:
            return OutboundMessage.objects.get(dedupe_key=dedupe_key)
        raise
