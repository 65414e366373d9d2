"""The admin programme (管理员培养): monthly assessments, and rotating temporary guides.

These are the writes the programme app (above analytics in the layers) calls with figures it
computes from real activity: ``programme.services.assessments_compute`` scores the staff and
records each assessment here, and ``programme.services.rotation_run`` ranks plain members by
their messages and replies and hands the counts to ``guides_rotate``. An operator may still
record or correct an assessment by hand (the group's Team page)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from members import rules
from members.models import AdminAssessment, Member, Membership, MembershipStatus, Role
from members.services.people import role_grant
from subgroups.models import Group


def _month_start(month: date) -> date:
    return month.replace(day=1)


def _month_end(month: date) -> datetime:
    last_day = calendar.monthrange(month.year, month.month)[1]
    return datetime(month.year, month.month, last_day, 23, 59, 59, tzinfo=UTC)


@transaction.atomic
def assessment_record(
    *, member: Member, group: Group, month: date, activity_score: int, dispute_score: int, notes: str = "", by=None
) -> AdminAssessment:
    """Record (or correct) an admin's assessment for a month: one row per (member, group,
    month), upserted. ``by`` is who corrected it by hand; computed assessments have none."""
    for field, score in (("activity_score", activity_score), ("dispute_score", dispute_score)):
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ApplicationError(_("Scores run from 0 to 100."), field=field)
    if member.community_id != group.community_id:
        raise ApplicationError(_("The member and the group belong to different communities."), field="member")
    try:
        assessment, _created = AdminAssessment.objects.update_or_create(
            member=member,
            group=group,
            month=_month_start(month),
            defaults={
                "activity_score": activity_score,
                "dispute_score": dispute_score,
                "notes": rules.clean_long_text(notes, "notes", max_length=2000),
                "assessed_by": by,
            },
        )
    except IntegrityError:
        raise ApplicationError(_("This month was just assessed by someone else; reload and try again.")) from None
    return assessment


@transaction.atomic
def guides_rotate(*, group: Group, month: date, message_counts: dict[int, int], top: int = 3) -> list[Membership]:
    """Make the month's ``top`` most active members of the group temporary guides until the
    month ends (the source article's rotation of the top-3). ``message_counts`` maps member
    ids to messages sent (``programme.services.rotation_run`` supplies the month's messages and
    replies from the daily rollups). Only plain members of the group itself are rotated in."""
    if not 1 <= top <= 20:
        raise ApplicationError(_("Choose 1 to 20 guides."), field="top")
    candidates = {
        membership.member_id: membership
        for membership in Membership.objects.filter(
            group=group, status=MembershipStatus.ACTIVE, role=Role.MEMBER
        ).select_related("member")
    }
    ranked = sorted(
        (member_id for member_id, count in message_counts.items() if member_id in candidates and count > 0),
        key=lambda member_id: (-message_counts[member_id], candidates[member_id].member.display_name),
    )
    until = _month_end(month)
    return [
        role_grant(member=candidates[member_id].member, group=group, role=Role.GUIDE, role_until=until)
        for member_id in ranked[:top]
    ]


def roles_expire(*, now: datetime | None = None) -> int:
    """Roles whose term has ended go back to plain membership. Returns how many."""
    now = now or timezone.now()
    expired = Membership.objects.filter(status=MembershipStatus.ACTIVE, role_until__lt=now).exclude(role=Role.MEMBER)
    count = 0
    for membership in expired.select_related("member", "group"):
        try:
            role_grant(member=membership.member, group=membership.group, role=Role.MEMBER)
            count += 1
        except ApplicationError:
            continue  # the last owner keeps the role
    return count
