"""The admin programme in the demo, on top of the generated activity and computed metrics.

A voting round on the hub nominates the members who were online most in the generated events;
their peers vote (one nominee is recognised by enough of them and waits to be appointed, the
others fall short); last month's assessments are computed for every group's staff; and last
month's most active plain members of the biggest sub-group rotate in as this month's guides.
Run it after ``metrics_compute``: the rotation and the assessments read the daily rollups.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _

from analytics.models import MemberDay
from analytics.services.metrics import local_today
from core.errors import ApplicationError
from members.models import Member, Membership, MembershipStatus, Role
from programme import selectors, services
from programme.models import RoundStatus, VotingRound
from subgroups.models import Community, Group, GroupStatus

NOMINEES = 5  # when nobody reaches 15 h, the threshold drops to let about this many through
VOTERS_PER_NOMINEE = (6, 10)
VOTED_NOMINEES = 8
# The first nominee is clearly recognised (at least 90%); the others fall below 80%.
RECOGNISED_SHARE = 0.9
OTHER_SHARES = (0.6, 0.5, 0.7, 0.4)


def programme_demo(*, community: Community, rng) -> str:
    """Build the programme's demo data for ``community`` and say what was made, in one line.
    ``rng`` is a ``random.Random`` or a numpy ``Generator``: only ``rng.random()`` is used."""
    hub = Group.objects.get(pk=community.hub_id)
    parts = [_round(hub, rng)]
    parts.append(_assessments(community))
    parts.append(_rotation(community))
    return "; ".join(part for part in parts if part)


def _round(hub: Group, rng) -> str:
    if VotingRound.objects.filter(group=hub, status=RoundStatus.OPEN).exists():
        return "a voting round is already open on the hub"
    settings = {"threshold_recognition": 0.8, "min_votes": 5, "days": 10}
    voting_round = services.round_create(group=hub, threshold_hours=15, **settings)
    threshold = 15.0
    if not voting_round.nominations.exists():
        # The synthetic members are less present than the article's candidates: nominate the
        # most present few instead, and say so on the round.
        voting_round.delete()
        _weeks, rows = selectors.weekly_online_hours(group=hub)
        eligible = [row for row in rows if not row.is_staff]
        if not eligible:
            return "nobody was online in the last four weeks: no voting round"
        threshold = max(math.floor(eligible[min(NOMINEES, len(eligible)) - 1].average * 2) / 2, 0.5)
        note = _(
            "Demo: nobody in the generated activity reaches 15 h a week, so this round nominates from %(hours)s h."
        ) % {"hours": f"{threshold:g}"}
        voting_round = services.round_create(group=hub, threshold_hours=threshold, note=note, **settings)
    votes = _votes(voting_round, hub, rng)
    results = selectors.round_results(voting_round)
    qualified = [result.nomination.member.display_name for result in results if result.qualified]
    return (
        f"round on {hub.name} from {threshold:g} h/week: {len(results)} nominees, {votes} votes, "
        f"{len(qualified)} qualified ({'、'.join(qualified) or '—'})"
    )


def _votes(voting_round: VotingRound, hub: Group, rng) -> int:
    nominees = list(voting_round.nominations.select_related("member").order_by("-online_hours", "pk"))
    voter_ids = list(
        Membership.objects.filter(group__in=selectors.subtree(hub), status=MembershipStatus.ACTIVE)
        .exclude(member_id__in=[nomination.member_id for nomination in nominees])
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()
    )
    pool = sorted(voter_ids)
    ballots = []
    for index, nomination in enumerate(nominees[:VOTED_NOMINEES]):
        low, high = VOTERS_PER_NOMINEE
        count = min(len(pool), low + int(rng.random() * (high - low + 1)))
        if index == 0:
            approvals = math.ceil(RECOGNISED_SHARE * count)
        else:
            approvals = math.floor(OTHER_SHARES[(index - 1) % len(OTHER_SHARES)] * count)
        chosen = _pick(pool, count, rng)
        ballots += [(nomination, voter_id, position < approvals) for position, voter_id in enumerate(chosen)]
    voters = Member.objects.in_bulk({voter_id for _nomination, voter_id, _approve in ballots})
    for nomination, voter_id, approve in ballots:
        services.vote_cast(voting_round=voting_round, nominee=nomination, voter=voters[voter_id], approve=approve)
    return len(ballots)


def _pick(pool: list[int], count: int, rng) -> list[int]:
    """``count`` distinct ids from ``pool``, chosen with ``rng.random()`` alone."""
    left = list(pool)
    chosen = []
    for _step in range(min(count, len(left))):
        chosen.append(left.pop(int(rng.random() * len(left))))
    return chosen


def _assessments(community: Community) -> str:
    month = selectors.previous_month(local_today(community))
    groups = Group.objects.filter(
        community=community,
        pk__in=Membership.objects.filter(
            status=MembershipStatus.ACTIVE, role__in=[Role.CORE_ADMIN, Role.ADMIN, Role.GUIDE]
        ).values("group_id"),
    ).order_by("tree_id", "lft")
    written = sum(len(services.assessments_compute(group=group, month=month)) for group in groups)
    return f"{written} assessments for {month:%Y-%m}"


def _rotation(community: Community) -> str:
    month = selectors.previous_month(local_today(community))
    if not MemberDay.objects.filter(community=community).exists():
        return "no daily rollups yet (compute the metrics first): no rotation"
    group = (
        Group.objects.filter(community=community, parent__isnull=False)
        .exclude(status=GroupStatus.ARCHIVED)
        .order_by("-member_count", "pk")
        .first()
    )
    if group is None:
        return ""
    try:
        guides = services.rotation_run(group=group, month=month, top=3)
    except ApplicationError as error:
        return f"no rotation in {group.name}: {error.message}"
    names = "、".join(guide.member.display_name for guide in guides)
    return f"rotation in {group.name}: {names} guide until {guides[0].role_until:%Y-%m-%d}" if guides else ""
