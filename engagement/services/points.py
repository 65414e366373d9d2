"""Points for deeds, by the community's rules. Every award is keyed, so a retried task, a
second worker or a repeated request never pays twice; the ledger stays the single truth."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from engagement.models import PointsRules
from members.models import Member
from members.services.points import points_grant
from subgroups.models import Community


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
