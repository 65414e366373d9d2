"""Points for deeds, by the community's rules. Every award is keyed, so a retried task, a
second worker or a repeated request never pays twice; the ledger stays the single truth."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from engagement.models import PointsRules
from members.models import Member, PointsEntry
from members.services.points import points_grant
from subgroups.models import Community

_CHUNK = 2000


def points_rules(*, community: Community) -> PointsRules:
    """The community's rules, made with the defaults on first use."""
    found = PointsRules.objects.filter(community=community).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PointsRules.objects.create(community=community)
    except IntegrityError:
        return PointsRules.objects.get(community=community)


def points_award(
    *,
    member: Member,
    rule: str,
    key: str,
    note: str = "",
    rules: PointsRules | None = None,
    at: datetime | None = None,
) -> int:
    """Award the points ``rule`` is worth (one of ``PointsRules.RULES``), once per ``key``,
    dated ``at`` (when the deed was done; now by default). Returns the points added: 0 when
    the rule is off or the key was already paid."""
    if rule not in PointsRules.RULES:
        raise ValueError(f"unknown points rule {rule!r}")
    rules = rules or points_rules(community=member.community)
    amount = getattr(rules, rule)
    if amount <= 0:
        return 0
    return amount if points_grant(member=member, amount=amount, reason=rule, note=note, key=key, at=at) else 0


def points_grant_many(*, community: Community, reason: str, rows: Iterable[tuple[int, int, str, datetime, str]]) -> int:
    """Keyed grants in bulk for the sweeps: ``rows`` of (member id, amount, key, when, note).
    Keys already paid are skipped, by a lookup first and by the unique index in the end, so a
    sweep racing another (or a request paying the same key) never pays twice. Returns how many
    entries were new at the lookup."""
    pending: dict[str, PointsEntry] = {}
    for member_id, amount, key, at, note in rows:
        if amount:
            pending[key] = PointsEntry(
                community_id=community.pk,
                member_id=member_id,
                amount=amount,
                reason=reason[:32],
                note=note[:200],
                key=key,
                created_at=at or timezone.now(),
            )
    keys = list(pending)
    for start in range(0, len(keys), _CHUNK):
        for paid in PointsEntry.objects.filter(key__in=keys[start : start + _CHUNK]).values_list("key", flat=True):
            pending.pop(paid, None)
    PointsEntry.objects.bulk_create(list(pending.values()), ignore_conflicts=True, batch_size=_CHUNK)
    return len(pending)


RULE_FIELDS = ("check_in", "post", "featured_post", "invite_accepted", "event_organised", "streak_days", "streak_bonus")
MAX_POINTS = 100_000


def points_rules_save(*, community: Community, **values: int) -> PointsRules:
    """Change the community's rules: any of ``RULE_FIELDS``, each a whole number (0 switches
    a rule off; a streak is 1–365 days)."""
    rules = points_rules(community=community)
    for name, value in values.items():
        if name not in RULE_FIELDS:
            raise ApplicationError(_("Unknown rule “%(name)s”.") % {"name": name})
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApplicationError(_("A whole number."), field=name)
        if name == "streak_days" and not 1 <= value <= 365:
            raise ApplicationError(_("A streak is 1 to 365 days."), field=name)
        if not 0 <= value <= MAX_POINTS:
            raise ApplicationError(_("From 0 to %(max)d points.") % {"max": MAX_POINTS}, field=name)
    with transaction.atomic():
        rules = PointsRules.objects.select_for_update().get(pk=rules.pk)
        for name, value in values.items():
            setattr(rules, name, value)
        rules.save()
    return rules
