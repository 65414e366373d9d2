"""Organised events (组织活动): a member who runs a meetup, a sharing session or a challenge for
a group earns the community's points for it, once per recorded event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from engagement.models import OrganisedEvent
from engagement.services.checkins import local_day
from engagement.services.points import points_award
from members.models import Member
from subgroups.models import Group

MAX_ATTENDEES = 100_000


@dataclass(frozen=True)
class Recorded:
    event: OrganisedEvent
    points: int


def organised_event_record(
    *, group: Group, organiser: Member, title: str, held_on: date, attendees: int = 0, by=None
) -> Recorded:
    """Record an event ``organiser`` ran for ``group`` and pay them ``event_organised`` (key
    ``event:<id>``). Events can be recorded afterwards, up to a year back, never ahead."""
    if organiser.community_id != group.community_id:
        raise ApplicationError(_("The organiser is not in this community."), field="organiser")
    title = (title or "").strip()
    if not title:
        raise ApplicationError(_("Give the event a title."), field="title")
    today = local_day(group.community, timezone.now())
    if held_on > today:
        raise ApplicationError(_("Record an event once it has taken place."), field="held_on")
    if held_on < today - timedelta(days=366):
        raise ApplicationError(_("That is more than a year ago."), field="held_on")
    if not 0 <= attendees <= MAX_ATTENDEES:
        raise ApplicationError(_("Attendees from 0 to %(max)d.") % {"max": MAX_ATTENDEES}, field="attendees")
    with transaction.atomic():
        event = OrganisedEvent.objects.create(
            community_id=group.community_id,
            group=group,
            organiser=organiser,
            title=title[:200],
            held_on=held_on,
            attendees=attendees,
            recorded_by=by if getattr(by, "is_authenticated", False) else None,
        )
        points = points_award(member=organiser, rule="event_organised", key=f"event:{event.pk}", note=event.title)
    return Recorded(event=event, points=points)
