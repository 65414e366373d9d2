"""Chat messages from the integrations, scanned with the same engine as posts."""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from content.models import FlagStatus, MemberFlag, ModerationFlag, WordAction
from content.services.lexicon import text_scan
from content.services.posts import _hits_json, warning_record
from content.words import strongest
from core.errors import ApplicationError
from core.text import has_invalid_multiline_characters
from members.services.people import member_by_handle
from outbox.models import MessageKind
from outbox.services import message_enqueue
from subgroups.models import Group, Platform


@transaction.atomic
def message_scan(
    *, group: Group, platform: str, external_message_id: str, text: str, author_external_id: str = ""
) -> ModerationFlag | None:
    """Scan one chat message. A hit puts a flag in the moderation queue (once per message,
    however often the integration reports it); a block hit also asks the integration to recall
    the message; a warn hit warns its author."""
    if platform not in Platform.values or not external_message_id or len(external_message_id) > 128:
        raise ApplicationError(_("Name the platform and the message's id."), field="external_message_id")
    hits = text_scan(community=group.community, text=text or "")
    if not hits:
        return None
    action = strongest(hits)
    existing = ModerationFlag.objects.filter(
        group=group, platform=platform, external_message_id=external_message_id
    ).first()
    if existing is not None:
        return existing
    author = member_by_handle(community=group.community, platform=platform, external_id=author_external_id)
    try:
        with transaction.atomic():
            flag = ModerationFlag.objects.create(
                community_id=group.community_id,
                group=group,
                platform=platform,
                external_message_id=external_message_id,
                author=author,
                author_external_id=author_external_id[:128],
                excerpt=(text or "")[:1000],
                hits=_hits_json(hits),
                action=action,
            )
    except IntegrityError:
        return ModerationFlag.objects.get(group=group, platform=platform, external_message_id=external_message_id)
    if action == WordAction.BLOCK:
        message_enqueue(
            group=group,
            kind=MessageKind.INSTRUCTION,
            body=json.dumps(
                {"action": "recall", "platform": platform, "message_id": external_message_id}, ensure_ascii=False
            ),
            recipient_platform=platform,
            dedupe_key=f"recall:{group.pk}:{platform}:{external_message_id}",
        )
    elif action == WordAction.WARN and author is not None:
        warning_record(member=author, group=group, words=sorted({hit.word for hit in hits if hit.action == action}))
    return flag


def flag_resolve(*, flag: ModerationFlag | MemberFlag, by, note: str = "") -> None:
    """Close a flag. Resolving twice changes nothing."""
    note = (note or "").strip()
    if len(note) > 2000 or has_invalid_multiline_characters(note):
        raise ApplicationError(_("A note is at most 2000 printable characters."), field="note")
    fields = {"status": FlagStatus.RESOLVED, "resolved_at": timezone.now(), "resolved_by": by}
    if isinstance(flag, MemberFlag):
        fields["note"] = note
    type(flag).objects.filter(pk=flag.pk, status=FlagStatus.OPEN).update(**fields)
    flag.refresh_from_db()
