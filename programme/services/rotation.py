"""The monthly rotation (轮值): the most active plain members become temporary guides."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from analytics.services.metrics import local_today
from core.errors import ApplicationError
from members.models import Membership
from members.services.program import guides_rotate
from programme import selectors
from subgroups.models import Group


def rotation_term(*, group: Group, month: date) -> date:
    """The month the guides serve: ``month`` itself while it lasts; once it is over, the month
    after it (last month's most active members serve this month)."""
    month = selectors.month_start(month)
    today = local_today(group.community)
    if month > today:
        raise ApplicationError(_("That month has not started yet."), field="month")
    if selectors.next_month(month) <= selectors.month_start(today):
        return selectors.next_month(month)
    return month


def rotation_run(*, group: Group, month: date, top: int = 3) -> list[Membership]:
    """Make the ``top`` members of ``rotation_preview(group, month)`` temporary guides through
    ``members.services.program.guides_rotate``, with their real message + reply counts. Ranking
    a finished month names guides for the month after it; ranking the current month, until it
    ends. Members already holding a role are not rotated, nor members who posted nothing."""
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 20:
        raise ApplicationError(_("Choose 1 to 20 guides."), field="top")
    term = rotation_term(group=group, month=month)
    counts = {row.member.pk: row.total for row in selectors.rotation_preview(group=group, month=month)}
    if not counts:
        raise ApplicationError(
            _("No plain member of this group posted that month: nobody to rotate in."), field="month"
        )
    return guides_rotate(group=group, month=term, message_counts=counts, top=top)
