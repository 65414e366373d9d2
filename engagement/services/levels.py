"""Levels (等级) from the points a member has earned in their lifetime: the sum of the ledger's
positive entries, refunds left out (a cancelled redemption gives back what was spent, it earns
nothing). Spending never demotes anyone; the balance is what the shop looks at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from engagement.models import Level, PointsRules, RewardItem
from engagement.services.points import points_rules
from members.models import Member, PointsEntry
from subgroups.locale import member_locale
from subgroups.models import Community

REFUND_REASON = "refund"
SPEND_REASON = "redeem"
# What counts as earned: every grant, but not a refund of points already spent.
EARNED = Q(amount__gt=0) & ~Q(reason=REFUND_REASON)

DEFAULT_LEVELS = (
    (gettext_noop("Newcomer"), 0),
    (gettext_noop("Regular"), 100),
    (gettext_noop("Contributor"), 300),
    (gettext_noop("Core member"), 1000),
    (gettext_noop("Legend"), 3000),
)
_PARKED = 2_000_000_000  # thresholds step aside here while a save reorders them
MAX_LEVELS = 30


@dataclass(frozen=True)
class LevelProgress:
    level: Level | None
    next_level: Level | None
    lifetime: int

    @property
    def to_next(self) -> int:
        return max(0, self.next_level.threshold - self.lifetime) if self.next_level else 0

    @property
    def percent(self) -> int:
        """How far from this level to the next, 0–100 (100 at the top level)."""
        if self.next_level is None:
            return 100
        floor = self.level.threshold if self.level else 0
        span = self.next_level.threshold - floor
        return max(0, min(100, int((self.lifetime - floor) * 100 / span))) if span > 0 else 100


def levels_for(*, community: Community) -> list[Level]:
    """The community's levels, lowest first; the defaults, named in the community's language
    (members see them), are made on first use."""
    levels = list(Level.objects.filter(community=community).order_by("threshold"))
    if levels:
        return levels
    try:
        with transaction.atomic():
            with member_locale(community):
                named = [(_(name), threshold) for name, threshold in DEFAULT_LEVELS]
            Level.objects.bulk_create([Level(community=community, name=name, threshold=t) for name, t in named])
    except IntegrityError:  # made by a request at the same moment
        pass
    return list(Level.objects.filter(community=community).order_by("threshold"))


def level_of(levels: list[Level], lifetime: int) -> LevelProgress:
    reached = [level for level in levels if level.threshold <= lifetime]
    above = [level for level in levels if level.threshold > lifetime]
    return LevelProgress(
        level=reached[-1] if reached else None, next_level=above[0] if above else None, lifetime=lifetime
    )


def lifetime_earned(*, member: Member) -> int:
    return PointsEntry.objects.filter(EARNED, member=member).aggregate(total=Sum("amount"))["total"] or 0


def lifetimes(entries: QuerySet[PointsEntry]) -> dict[int, int]:
    """Lifetime earned per member of ``entries``, in one grouped query."""
    return dict(
        entries.filter(EARNED)
        .order_by()
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("member_id", "total")
    )


def levels_save(*, community: Community, levels: list[dict[str, Any]]) -> list[Level]:
    """Replace the community's levels with ``levels``: dicts of ``name``, ``threshold`` and,
    for an existing level, its ``id`` (and ``delete`` to remove it). The lowest level starts
    at 0 and no two share a threshold. A level a reward waits behind can't be deleted."""
    existing = {level.pk: level for level in Level.objects.filter(community=community)}
    kept, removed = [], []
    for row in levels:
        level_id = row.get("id")
        if level_id is not None and level_id not in existing:
            raise ApplicationError(_("No such level."), field="levels")
        if row.get("delete"):
            if level_id is not None:
                removed.append(existing[level_id])
            continue
        name = (row.get("name") or "").strip()
        if not name:
            raise ApplicationError(_("Every level needs a name."), field="levels")
        threshold = row.get("threshold")
        if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold < _PARKED:
            raise ApplicationError(_("Points needed are a whole number from 0."), field="levels")
        kept.append((level_id, name[:50], threshold))
    if not kept:
        raise ApplicationError(_("Keep at least one level."), field="levels")
    if len(kept) > MAX_LEVELS:
        raise ApplicationError(_("At most %(count)d levels.") % {"count": MAX_LEVELS}, field="levels")
    thresholds = [threshold for _id, _name, threshold in kept]
    if len(set(thresholds)) != len(thresholds):
        raise ApplicationError(_("Two levels need the same points: each level needs its own."), field="levels")
    if min(thresholds) != 0:
        raise ApplicationError(_("The first level starts at 0 points, so everyone has a level."), field="levels")
    mentioned = {level_id for level_id, _name, _threshold in kept} | {level.pk for level in removed}
    removed += [level for pk, level in existing.items() if pk not in mentioned]
    with transaction.atomic():
        PointsRules.objects.select_for_update().filter(pk=points_rules(community=community).pk).first()
        blocking = RewardItem.objects.filter(requires_level__in=removed).first()
        if blocking is not None:
            raise ApplicationError(
                _("“%(level)s” can't go: the reward “%(item)s” needs it.")
                % {"level": blocking.requires_level.name, "item": blocking.name},
                field="levels",
            )
        Level.objects.filter(pk__in=[level.pk for level in removed]).delete()
        updated = [level_id for level_id, _name, _threshold in kept if level_id is not None]
        for index, level_id in enumerate(updated):
            Level.objects.filter(pk=level_id).update(threshold=_PARKED + index)
        for level_id, name, threshold in kept:
            if level_id is None:
                Level.objects.create(community=community, name=name, threshold=threshold)
            else:
                Level.objects.filter(pk=level_id).update(name=name, threshold=threshold)
    return list(Level.objects.filter(community=community).order_by("threshold"))
