"""Grants and spends on the points ledger. A grant with a key happens once, however many times
it is asked for: the key is unique, so a retried task or a second worker adds nothing."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Sum

from members.models import Member, PointsEntry


def points_grant(*, member: Member, amount: int, reason: str, note: str = "", key: str | None = None) -> bool:
    """Add ``amount`` (negative to spend) to the member's ledger. Returns False when an entry
    with this key already exists."""
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
            )
    except IntegrityError:
        if key:
            return False
        raise
    return True


def points_balance(*, member: Member) -> int:
    return PointsEntry.objects.filter(member=member).aggregate(total=Sum("amount"))["total"] or 0
