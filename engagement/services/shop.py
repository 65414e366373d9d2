"""The rewards shop (积分商城): items, redemptions, and their way back.

A redemption is one transaction that locks the member's row, then the item's (always in this
order, so two redemptions never wait on each other in a circle), and only then reads what it
decides on: the stock, the member's earlier redemptions, their level and streak, and their
balance from the ledger. Two members racing for the last item, or one member spending the
same points twice at once, queue on those locks, and the second sees what the first did."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from engagement.models import Level, Redemption, RedemptionStatus, RewardItem
from engagement.services import streaks
from engagement.services.checkins import local_day
from engagement.services.levels import REFUND_REASON, SPEND_REASON, lifetime_earned
from members.models import Member
from members.services.points import points_balance, points_grant
from subgroups.models import Community

MAX_COST = 10_000_000


@dataclass(frozen=True)
class Lock:
    """Why a member can't redeem an item yet (None: they can)."""

    reason: str
    message: str


def reward_save(
    *,
    community: Community,
    item: RewardItem | None = None,
    name: str,
    description: str = "",
    cost: int,
    stock: int | None = None,
    per_member_limit: int | None = None,
    requires_level: Level | None = None,
    requires_streak: int = 0,
    is_active: bool = True,
) -> RewardItem:
    name = (name or "").strip()
    if not name:
        raise ApplicationError(_("Give the reward a name."), field="name")
    if not isinstance(cost, int) or not 1 <= cost <= MAX_COST:
        raise ApplicationError(_("A cost from 1 to %(max)d points.") % {"max": MAX_COST}, field="cost")
    if stock is not None and stock < 0:
        raise ApplicationError(_("Stock can't be negative."), field="stock")
    if per_member_limit is not None and per_member_limit < 1:
        raise ApplicationError(_("At least 1 per member, or empty for no limit."), field="per_member_limit")
    if requires_level is not None and requires_level.community_id != community.pk:
        raise ApplicationError(_("No such level."), field="requires_level")
    if requires_streak < 0 or requires_streak > 3650:
        raise ApplicationError(_("A streak from 0 to 3650 days."), field="requires_streak")
    item = item or RewardItem(community=community)
    if item.community_id != community.pk:
        raise ApplicationError(_("No such reward."))
    values = {
        "name": name[:100],
        "description": (description or "").strip()[:2000],
        "cost": cost,
        "stock": stock,
        "per_member_limit": per_member_limit,
        "requires_level": requires_level,
        "requires_streak": requires_streak,
        "is_active": is_active,
    }
    with transaction.atomic():
        if item.pk:
            # The stock is changed under the item's lock, like a redemption changes it.
            RewardItem.objects.select_for_update().filter(pk=item.pk).first()
        for field, value in values.items():
            setattr(item, field, value)
        item.save()
    return item


def reward_lock(*, member: Member, item: RewardItem, lifetime: int | None = None, best_streak: int | None = None):
    """Whether the item waits behind a level or a streak the member has not reached."""
    if item.requires_level_id:
        lifetime = lifetime_earned(member=member) if lifetime is None else lifetime
        level = item.requires_level
        if lifetime < level.threshold:
            return Lock(
                "level",
                _("Unlocked at level “%(level)s” (%(threshold)d points earned); %(lifetime)d earned so far.")
                % {"level": level.name, "threshold": level.threshold, "lifetime": lifetime},
            )
    if item.requires_streak:
        if best_streak is None:
            best_streak = streaks.member_streak(member, today=local_day(member.community, timezone.now())).best
        if best_streak < item.requires_streak:
            return Lock(
                "streak",
                _("Unlocked by checking in %(days)d days in a row; the best streak so far is %(best)d.")
                % {"days": item.requires_streak, "best": best_streak},
            )
    return None


def reward_redeem(*, member: Member, item: RewardItem) -> Redemption:
    """Spend the member's points on ``item``: a pending redemption, one fewer in stock, and
    −cost on the ledger (keyed by the redemption). Each refusal says why."""
    with transaction.atomic():
        member = Member.objects.select_for_update().select_related("community").get(pk=member.pk)
        item = RewardItem.objects.select_for_update().get(pk=item.pk)
        if item.community_id != member.community_id:
            raise ApplicationError(_("No such reward."), field="item")
        if not item.is_active:
            raise ApplicationError(_("“%(item)s” is not on offer at the moment.") % {"item": item.name}, field="item")
        if item.stock is not None and item.stock <= 0:
            raise ApplicationError(_("“%(item)s” is out of stock.") % {"item": item.name}, field="item")
        if item.per_member_limit is not None:
            taken = Redemption.objects.filter(item=item, member=member).exclude(status=RedemptionStatus.CANCELLED)
            if taken.count() >= item.per_member_limit:
                raise ApplicationError(
                    _("The limit for “%(item)s” is %(limit)d per member, already reached.")
                    % {"item": item.name, "limit": item.per_member_limit},
                    field="item",
                )
        if item.requires_level_id:
            item.requires_level = Level.objects.get(pk=item.requires_level_id)
        lock = reward_lock(member=member, item=item)
        if lock is not None:
            raise ApplicationError(lock.message, field="item", extra={"locked": lock.reason})
        balance = points_balance(member=member)
        if balance < item.cost:
            raise ApplicationError(
                _("Not enough points: “%(item)s” costs %(cost)d, the balance is %(balance)d, %(missing)d missing.")
                % {"item": item.name, "cost": item.cost, "balance": balance, "missing": item.cost - balance},
                field="item",
                extra={"missing": item.cost - balance},
            )
        redemption = Redemption.objects.create(
            community_id=member.community_id, item=item, member=member, cost=item.cost
        )
        if item.stock is not None:
            item.stock -= 1
            item.save(update_fields=["stock"])
        points_grant(
            member=member, amount=-item.cost, reason=SPEND_REASON, note=item.name, key=f"redeem:{redemption.pk}"
        )
    return redemption


def redemption_cancel(*, redemption: Redemption, by=None) -> Redemption:
    """Cancel a pending redemption: the points come back (keyed, so once) and so does the stock."""
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=redemption.member_id).first()
        item = RewardItem.objects.select_for_update().get(pk=redemption.item_id)
        redemption = Redemption.objects.select_for_update().select_related("member").get(pk=redemption.pk)
        if redemption.status != RedemptionStatus.PENDING:
            raise ApplicationError(_("Only a redemption still waiting can be cancelled."), field="status")
        redemption.status = RedemptionStatus.CANCELLED
        redemption.cancelled_at = timezone.now()
        redemption.by = by if getattr(by, "is_authenticated", False) else None
        redemption.save(update_fields=["status", "cancelled_at", "by"])
        if item.stock is not None:
            item.stock += 1
            item.save(update_fields=["stock"])
        points_grant(
            member=redemption.member,
            amount=redemption.cost,
            reason=REFUND_REASON,
            note=item.name,
            key=f"refund:{redemption.pk}",
        )
    return redemption


def redemption_fulfil(*, redemption: Redemption, by=None) -> Redemption:
    """The reward was handed over."""
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().get(pk=redemption.pk)
        if redemption.status != RedemptionStatus.PENDING:
            raise ApplicationError(_("Only a redemption still waiting can be handed over."), field="status")
        redemption.status = RedemptionStatus.FULFILLED
        redemption.fulfilled_at = timezone.now()
        redemption.by = by if getattr(by, "is_authenticated", False) else None
        redemption.save(update_fields=["status", "fulfilled_at", "by"])
    return redemption
