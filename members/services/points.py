"""Grants and spends on the points ledger. A grant with a key happens once, however many times
it is asked for: the key is unique, so a retried task or a second worker adds nothing."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from members.models import Member, PointsEntry


def points_grant(
    *, member: Member, amount: int, reason: str, note: str = "", key: str | None = None, at: datetime | None = None
) -> bool:
    """Add ``amount`` (negative to spend) to the member's ledger, dated ``at`` (now by default;
    a sweep crediting an earlier deed dates the entry when it was earned, so weekly and monthly
    leaderboards count it in its own week). Returns False when an entry with this key exists."""
    if key and PointsEntry.objects.filter(key=key).exists():
        return False
    try:
        with transaction.atomic():
            PointsEntry.objects.create(
                community_id=member.community_id,
                member=member,
                amount=amount,
                reason=reason[:32],
                note=note[:200],
                key=key or None,
                created_at=at or timezone.now(),
            )
    except IntegrityError:
        if key:
            return False
        raise
    return True


def points_balance(*, member: Member) -> int:
    return PointsEntry.objects.filter(member=member).aggregate(total=Sum("amount"))["total"] or 0
