"""The content calendar (内容日历): recurring pushes in the community's time zone, and the
content mix against the 70/20/10 target."""

from __future__ import annotations

import logging
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from content.models import MIX_GROUP, MIX_TARGET, Post, PostKind, PostSource, PostStatus, Schedule, ScheduleRun
from content.services.posts import post_submit
from core.errors import ApplicationError
from core.text import has_invalid_characters, has_invalid_multiline_characters
from subgroups.models import Community, Group, GroupStatus

logger = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=3)

_UNSET: Any = object()


def schedule_clean(kind: str, title: str, body: str, weekdays: Any, at: Any) -> tuple[str, str, str, list[int], time]:
    if kind not in PostKind.values or kind == PostKind.DIGEST:
        raise ApplicationError(_("Choose what kind of post this is."), field="kind")
    title = " ".join((title or "").split())
    if not title or len(title) > 200 or has_invalid_characters(title):
        raise ApplicationError(_("A title is 1 to 200 printable characters."), field="title")
    body = (body or "").strip()
    if not body or len(body) > 20_000 or has_invalid_multiline_characters(body):
        raise ApplicationError(_("The post needs a body of at most 20,000 printable characters."), field="body")
    if (
        not isinstance(weekdays, (list, tuple))
        or not weekdays
        or not all(isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6 for day in weekdays)
    ):
        raise ApplicationError(_("Pick at least one weekday."), field="weekdays")
    if not isinstance(at, time):
        raise ApplicationError(_("Give a time of day."), field="time")
    return kind, title, body, sorted(set(weekdays)), at.replace(second=0, microsecond=0)


@transaction.atomic
def schedule_create(*, group: Group, kind: str, title: str, body: str, weekdays: list[int], at: time) -> Schedule:
    kind, title, body, weekdays, at = schedule_clean(kind, title, body, weekdays, at)
    return Schedule.objects.create(
        community_id=group.community_id, group=group, kind=kind, title=title, body=body, weekdays=weekdays, time=at
    )


@transaction.atomic
def schedule_update(
    *,
    schedule: Schedule,
    is_active: bool = _UNSET,
    kind: str = _UNSET,
    title: str = _UNSET,
    body: str = _UNSET,
    weekdays: list[int] = _UNSET,
    at: time = _UNSET,
) -> Schedule:
    """Pause, resume or rewrite a schedule. A push already made today stays made."""
    given = {"kind": kind, "title": title, "body": body, "weekdays": weekdays, "at": at}
    if any(value is not _UNSET for value in given.values()):
        current = {
            "kind": schedule.kind,
            "title": schedule.title,
            "body": schedule.body,
            "weekdays": schedule.weekdays,
            "at": schedule.time,
        }
        merged = {name: current[name] if value is _UNSET else value for name, value in given.items()}
        schedule.kind, schedule.title, schedule.body, schedule.weekdays, schedule.time = schedule_clean(**merged)
    if is_active is not _UNSET:
        if is_active and not schedule.is_active:
            schedule.active_since = timezone.now()  # a resumed schedule doesn't catch up on the pause
        schedule.is_active = bool(is_active)
    schedule.save()
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    schedule.delete()


def _local_now(community: Community, now: datetime) -> datetime:
    return now.astimezone(zoneinfo.ZoneInfo(community.time_zone))


def calendar_run(*, now: datetime | None = None) -> int:
    """Create today's due pushes. A run is recorded once per schedule and local day (a unique
    constraint), so the beat task may run every minute, twice, or late: each push goes once.
    A push more than ``CATCH_UP`` late (beat was down) is skipped rather than sent out of its
    time, and a schedule never pushes a slot from before it was created or resumed."""
    now = now or timezone.now()
    created = 0
    for schedule in Schedule.objects.filter(is_active=True).select_related("community", "group"):
        local = _local_now(schedule.community, now)
        if local.weekday() not in schedule.weekdays or local.time() < schedule.time:
            continue
        slot = datetime.combine(local.date(), schedule.time, local.tzinfo)
        if slot < schedule.active_since or now - slot > CATCH_UP:
            continue  # scheduled before the schedule existed, or too long ago to still be news
        if schedule.group.status == GroupStatus.ARCHIVED:
            continue
        try:
            with transaction.atomic():
                run = ScheduleRun.objects.create(schedule=schedule, day=local.date())
                post = post_submit(
                    group=schedule.group,
                    author=None,
                    kind=schedule.kind,
                    title=schedule.title,
                    body=schedule.body,
                    source=PostSource.CALENDAR,
                )
                ScheduleRun.objects.filter(pk=run.pk).update(post=post)
        except IntegrityError:
            continue  # already pushed today
        except ApplicationError as error:  # e.g. the group was archived a moment ago
            logger.warning("schedule %s not pushed: %s", schedule.pk, error.message)
            continue
        created += 1
    return created


@dataclass(frozen=True)
class Slot:
    when: datetime  # local
    schedule: Schedule


def upcoming(
    *, community: Community, schedules: QuerySet[Schedule], days: int = 21, now: datetime | None = None
) -> list[Slot]:
    """The pushes of the coming ``days``, in the community's time zone."""
    local_now = _local_now(community, now or timezone.now())
    zone = zoneinfo.ZoneInfo(community.time_zone)
    slots: list[Slot] = []
    for offset in range(days):
        day: date = local_now.date() + timedelta(days=offset)
        for schedule in schedules:
            if schedule.is_active and day.weekday() in schedule.weekdays:
                when = datetime.combine(day, schedule.time, zone)
                if when >= local_now:
                    slots.append(Slot(when, schedule))
    return sorted(slots, key=lambda slot: (slot.when, slot.schedule.pk))


@dataclass(frozen=True)
class Mix:
    counts: dict[str, int]
    percents: dict[str, int]
    target: dict[str, int]
    total: int


def content_mix(*, groups: QuerySet[Group], days: int = 30, now: datetime | None = None) -> Mix:
    """Published posts of the last ``days`` by mix group: value (knowledge, news, topics), fun
    and emotional, against the 70/20/10 target. Announcements and digests don't count."""
    since = (now or timezone.now()) - timedelta(days=days)
    by_kind = dict(
        Post.objects.filter(group__in=groups, status=PostStatus.PUBLISHED, published_at__gte=since)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    counts: Counter[str] = Counter(dict.fromkeys(MIX_TARGET, 0))
    for kind, number in by_kind.items():
        if kind in MIX_GROUP:
            counts[MIX_GROUP[kind]] += number
    total = sum(counts.values())
    percents = {name: round(100 * number / total) if total else 0 for name, number in counts.items()}
    return Mix(dict(counts), percents, dict(MIX_TARGET), total)
