"""Activity ingestion: batches of events from integrations and imports.

A batch is checked item by item; a bad item is reported and never sinks the good ones. Good
items go in with one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING per chunk, so a
retried batch (or two integrations racing with the same events) changes nothing and counts
its events as duplicates. The local days that received events are marked dirty in the same
transaction, which is how the metric engine knows what to recompute.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from analytics.models import DirtyDay, Event, EventKind
from analytics.settings import settings_for
from analytics.sql import insert_returning, upsert
from content.services import lexicon, moderation
from core.text import has_invalid_characters
from members.services.people import members_for_handles, memberships_follow_platform, memberships_seen
from subgroups.models import Community, Group, Platform

MAX_BATCH = 5000
MAX_TEXT = 20_000
_KINDS = frozenset(EventKind.values)
_PLATFORMS = frozenset(Platform.values)
_FUTURE_SLACK = timedelta(minutes=10)
# A question, by its punctuation or a sentence-final particle (吗/呢) or a question word.
_QUESTION = re.compile(r"[?？]\s*$|[吗呢]\s*[。.!！]?\s*$|^(请问|怎么|如何|为什么|有没有|谁知道)")
_EVENT_COLUMNS = (
    "community_id",
    "group_id",
    "member_id",
    "kind",
    "occurred_at",
    "day",
    "external_id",
    "text_length",
    "text_hash",
    "text",
    "is_question",
    "reply_to",
    "value",
    "received_at",
)
_SCANNED_KINDS = frozenset({EventKind.MESSAGE, EventKind.REPLY})


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    members_created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "members_created": self.members_created,
            "errors": self.errors,
        }


@dataclass
class _Item:
    index: int
    group: Group
    kind: str
    platform: str
    user_id: str
    name: str
    occurred_at: datetime
    external_id: str
    text: str | None
    is_question: bool
    reply_to: str
    value: Decimal | None


class GroupResolver:
    """Finds an event's group among the groups the caller may write events for: by id, or by
    the group's platform and external id. Anything else reads as unknown, never as forbidden."""

    def __init__(self, groups: Iterable[Group]):
        self.by_id: dict[int, Group] = {}
        self.by_external: dict[tuple[str, str], Group] = {}
        for group in groups:
            self.by_id[group.pk] = group
            if group.external_id:
                self.by_external[(group.platform, group.external_id)] = group

    def resolve(self, raw: Mapping[str, Any]) -> tuple[Group | None, dict[str, str]]:
        group_id = raw.get("group")
        if group_id not in (None, ""):
            if isinstance(group_id, bool) or not isinstance(group_id, (int, str)) or not str(group_id).isdigit():
                return None, {"group": _("A group id is a whole number.")}
            group = self.by_id.get(int(group_id))
            return (group, {}) if group else (None, {"group": _("No such group.")})
        platform = raw.get("group_platform") or raw.get("platform")
        external = raw.get("group_external_id")
        if not external:
            return None, {"group": _("Name the group: its id, or group_platform and group_external_id.")}
        group = self.by_external.get((str(platform), str(external)))
        return (group, {}) if group else (None, {"group_external_id": _("No such group on this platform.")})


def _text_field(raw: Mapping[str, Any], name: str, errors: dict[str, str], *, limit: int, required: bool) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            errors[name] = _("This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors[name] = _("Not a valid string.")
        return ""
    value = str(value).strip()
    if len(value) > limit:
        errors[name] = _("At most %(limit)d characters.") % {"limit": limit}
    elif has_invalid_characters(value):
        errors[name] = _("Contains characters that are not allowed.")
    return value


def parse_occurred_at(value: Any, *, now: datetime) -> tuple[datetime | None, str]:
    """A timezone-aware ISO 8601 time, not in the future. Returns (time, error)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return None, _("Not an ISO 8601 time, e.g. 2026-11-20T09:30:00+08:00.")
    else:
        return None, _("This field is required.")
    if timezone.is_naive(parsed):
        return None, _("Give a time zone, e.g. +08:00 or Z.")
    if parsed > now + _FUTURE_SLACK:
        return None, _("This time is in the future.")
    if parsed.year < 2000:
        return None, _("This time is too far in the past.")
    return parsed, ""


def _parse(index: int, raw: Any, resolver: GroupResolver, now: datetime) -> tuple[_Item | None, dict[str, str]]:
    if not isinstance(raw, Mapping):
        return None, {"non_field_errors": _("Each event is an object.")}
    errors: dict[str, str] = {}
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _KINDS:
        errors["type"] = _("Unknown type; one of: %(kinds)s.") % {"kinds": ", ".join(EventKind.values)}
    group, group_errors = resolver.resolve(raw)
    errors.update(group_errors)
    platform = raw.get("platform") or (group.platform if group else "")
    if not isinstance(platform, str) or (platform not in _PLATFORMS and (group is not None or raw.get("platform"))):
        errors["platform"] = _("Unknown platform.")
    user_id = _text_field(raw, "user_id", errors, limit=128, required=True)
    name = _text_field(raw, "user_name", errors, limit=100, required=False)
    external_id = _text_field(raw, "event_id", errors, limit=128, required=True)
    reply_to = _text_field(raw, "reply_to", errors, limit=128, required=False)
    occurred_at, problem = parse_occurred_at(raw.get("occurred_at"), now=now)
    if problem:
        errors["occurred_at"] = problem
    text = raw.get("text")
    if text is not None and not isinstance(text, str):
        errors["text"] = _("Not a valid string.")
    elif text is not None and len(text) > MAX_TEXT:
        errors["text"] = _("At most %(limit)d characters.") % {"limit": MAX_TEXT}
    value = raw.get("value")
    if value is not None:
        try:
            value = Decimal(str(value))
            if not value.is_finite() or abs(value) >= Decimal("1e10"):
                raise InvalidOperation
            value = value.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["value"] = _("A number below ten billion.")
    question = raw.get("is_question")
    if question is not None and not isinstance(question, bool):
        errors["is_question"] = _("true or false.")
    if errors:
        return None, errors
    if question is None:
        question = bool(text) and kind == EventKind.MESSAGE and bool(_QUESTION.search(text.strip()))
    return (
        _Item(
            index=index,
            group=group,
            kind=kind,
            platform=platform,
            user_id=user_id,
            name=name,
            occurred_at=occurred_at,
            external_id=external_id,
            text=text,
            is_question=question,
            reply_to=reply_to,
            value=value,
        ),
        {},
    )


def events_ingest(
    *, raw_events: list[Any], groups: Iterable[Group], now: datetime | None = None, scan: bool = True
) -> IngestResult:
    """Check and store a batch of at most ``MAX_BATCH`` events for the given ``groups`` (those
    the caller may write events for). Returns the counts and each rejected item's errors.
    ``scan=False`` skips the word engine: for imported history, where asking a platform to
    recall a months-old message, or warning its author today, would be wrong."""
    now = now or timezone.now()
    result = IngestResult()
    resolver = GroupResolver(groups)
    items: list[_Item] = []
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(raw_events):
        item, errors = _parse(index, raw, resolver, now)
        if item is None:
            result.rejected += 1
            result.errors.append({"index": index, "event_id": _event_id_of(raw), "fields": errors})
            continue
        key = (item.group.community_id, item.external_id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        items.append(item)
    by_community: dict[int, list[_Item]] = {}
    for item in items:
        by_community.setdefault(item.group.community_id, []).append(item)
    for community_items in by_community.values():
        _store(community_items[0].group.community, community_items, result, now, scan=scan)
    return result


def _event_id_of(raw: Any) -> str:
    value = raw.get("event_id") if isinstance(raw, Mapping) else None
    return str(value)[:128] if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def _store(community: Community, items: list[_Item], result: IngestResult, now: datetime, *, scan: bool) -> None:
    zone = zoneinfo.ZoneInfo(community.time_zone)
    keep_text = settings_for(community).keep_message_text
    names: dict[tuple[str, str], str] = {}
    first_seen: dict[tuple[str, str], datetime] = {}
    for item in items:
        key = (item.platform, item.user_id)
        names.setdefault(key, item.name)
        if key not in first_seen or item.occurred_at < first_seen[key]:
            first_seen[key] = item.occurred_at
    member_ids, created = members_for_handles(community=community, handles=names, first_seen=first_seen)
    result.members_created += created
    ops = connection.ops
    received = ops.adapt_datetimefield_value(now)
    rows = []
    for item in items:
        text = item.text or ""
        rows.append(
            (
                community.pk,
                item.group.pk,
                member_ids[(item.platform, item.user_id)],
                item.kind,
                ops.adapt_datetimefield_value(item.occurred_at),
                ops.adapt_datefield_value(item.occurred_at.astimezone(zone).date()),
                item.external_id,
                len(text) if item.text is not None else None,
                hashlib.sha256(text.encode()).hexdigest() if item.text else "",
                text if keep_text else "",
                item.is_question,
                item.reply_to,
                ops.adapt_decimalfield_value(item.value, 12, 2),
                received,
            )
        )
    with transaction.atomic():
        inserted = set(
            insert_returning(
                Event._meta.db_table,
                _EVENT_COLUMNS,
                rows,
                conflict=("community_id", "external_id"),
                returning="external_id",
            )
        )
        days = sorted({row[5] for row in rows if row[6] in inserted})
        if days:
            upsert(
                DirtyDay._meta.db_table,
                ("community_id", "day", "seq"),
                [(community.pk, day, 1) for day in days],
                conflict=("community_id", "day"),
                update=(),
                extra_set=f"seq = {DirtyDay._meta.db_table}.seq + 1",
            )
        fresh = [item for item in items if item.external_id in inserted]
        changes = [
            (member_ids[(item.platform, item.user_id)], item.group.pk, item.kind, item.occurred_at)
            for item in fresh
            if item.kind in (EventKind.JOIN, EventKind.LEAVE)
        ]
        # Acting in a group makes one a member of it (unless a join in this batch says when);
        # then joins and leaves, in time order, open and close memberships.
        joining = {(member_id, group_id) for member_id, group_id, kind, _when in changes if kind == EventKind.JOIN}
        seen_in_group: dict[tuple[int, int], datetime] = {}
        for item in fresh:
            pair = (member_ids[(item.platform, item.user_id)], item.group.pk)
            if item.kind in (EventKind.JOIN, EventKind.LEAVE) or pair in joining:
                continue
            if pair not in seen_in_group or item.occurred_at < seen_in_group[pair]:
                seen_in_group[pair] = item.occurred_at
        memberships_seen(first_seen=seen_in_group)
        if changes:
            memberships_follow_platform(changes=changes)
        # The word engine reads new chat text once (a duplicate was scanned the first time), in
        # the same transaction as the store: if either fails, neither happened, and the bot's
        # retry stores and scans the batch again. One matcher serves the batch; only a hit goes
        # on to file a flag.
        if scan:
            matcher = lexicon.matcher_for(community)
            for item in fresh:
                if item.text and item.kind in _SCANNED_KINDS and matcher.scan(item.text):
                    moderation.message_scan(
                        group=item.group,
                        platform=item.platform,
                        external_message_id=item.external_id,
                        text=item.text,
                        author_external_id=item.user_id,
                    )
    result.accepted += len(inserted)
    result.duplicates += len(items) - len(inserted)
