"""Recall policies and their stages, coupon pools, and opt-outs: the writes an operator makes."""

from __future__ import annotations

from datetime import time
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from analytics.models import RiskBand, Segment
from core.errors import ApplicationError
from members.models import Member
from recall.models import (
    Channel,
    Coupon,
    CouponPool,
    GiftKind,
    OptOut,
    RecallPolicy,
    RecallStage,
)
from recall.services.messages import template_check
from subgroups.locale import member_locale
from subgroups.models import Community

MAX_CODES_PER_IMPORT = 100_000


def _name(value: str, *, field: str = "name") -> str:
    value = " ".join((value or "").split())
    if not value or len(value) > 100:
        raise ApplicationError(_("Give it a name of up to 100 characters."), field=field)
    return value


@transaction.atomic
def policy_default(*, community: Community) -> RecallPolicy:
    """The articles' three stages: day 30 an in-app "what you missed" with a coupon, day 37 a
    private message, day 60 a phone call with the returning-member privilege. Idempotent.
    Written in the community's language: its members receive these texts."""
    with member_locale(community):
        return _policy_default(community)


def _policy_default(community: Community) -> RecallPolicy:
    policy, created = RecallPolicy.objects.get_or_create(community=community, name=_("Silent members"))
    if not created:
        return policy
    pool, _created = CouponPool.objects.get_or_create(
        community=community, name=_("Welcome back"), defaults={"value": Decimal("20.00")}
    )
    RecallStage.objects.bulk_create(
        [
            RecallStage(
                policy=policy,
                position=1,
                name=_("What you missed"),
                days_silent=30,
                channel=Channel.IN_APP,
                template=_(
                    "Hi {name}, here is what you missed in {community}:\n{digest}\n"
                    "A welcome-back coupon for you: {coupon}\n{link}"
                ),
                template_b=_("{name}, {community} has news for you:\n{digest}\nYour coupon: {coupon}\n{link}"),
                include_digest=True,
                gift_kind=GiftKind.COUPON,
                coupon_pool=pool,
                wait_days=7,
            ),
            RecallStage(
                policy=policy,
                position=2,
                name=_("Private message"),
                days_silent=37,
                channel=Channel.PLATFORM,
                template=_(
                    "Hi {name}, we have not heard from you for {days} days. Come back and say hello: "
                    "{points} points are waiting. {link}"
                ),
                gift_kind=GiftKind.POINTS,
                gift_points=50,
                wait_days=23,
            ),
            RecallStage(
                policy=policy,
                position=3,
                name=_("Personal call"),
                days_silent=60,
                channel=Channel.PHONE,
                template=_(
                    "Script: introduce yourself as {community}'s admin. Ask how {name} is doing and what the group "
                    "could do better. Offer the returning-member privilege: {privilege}."
                ),
                privilege=_("a free month of the annual membership"),
                wait_days=14,
            ),
        ]
    )
    return policy


def _clock(value, field: str) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ApplicationError(_("Enter a time like 22:00."), field=field) from None


def _whole(value, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApplicationError(_("Enter a whole number."), field=field) from None
    if not low <= number <= high:
        raise ApplicationError(_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}, field=field)
    return number


@transaction.atomic
def policy_save(
    *,
    community: Community,
    policy: RecallPolicy | None = None,
    name: str,
    is_active: bool = True,
    quiet_start=None,
    quiet_end=None,
    monthly_cap: int = 4,
    recovery_days: int = 14,
    point_value="0.01",
) -> RecallPolicy:
    start, end = _clock(quiet_start, "quiet_start"), _clock(quiet_end, "quiet_end")
    if (start is None) != (end is None):
        raise ApplicationError(_("Give both ends of the quiet hours, or neither."), field="quiet_end")
    if start is not None and start == end:
        raise ApplicationError(_("Quiet hours need a start and an end that differ."), field="quiet_end")
    try:
        cost = Decimal(str(point_value))
    except (InvalidOperation, ValueError):
        raise ApplicationError(_("Enter an amount like 0.01."), field="point_value") from None
    if not cost.is_finite() or cost < 0 or cost >= 10_000:
        raise ApplicationError(_("Enter an amount like 0.01."), field="point_value")
    policy = policy or RecallPolicy(community=community)
    policy.name = _name(name)
    policy.is_active = bool(is_active)
    policy.quiet_start, policy.quiet_end = start, end
    policy.monthly_cap = _whole(monthly_cap, "monthly_cap", 1, 100)
    policy.recovery_days = _whole(recovery_days, "recovery_days", 1, 90)
    policy.point_value = cost.quantize(Decimal("0.0001"))
    if RecallPolicy.objects.filter(community=community, name=policy.name).exclude(pk=policy.pk).exists():
        raise ApplicationError(_("Another policy has this name."), field="name")
    policy.save()
    return policy


@transaction.atomic
def stage_save(
    *,
    policy: RecallPolicy,
    stage: RecallStage | None = None,
    name: str,
    days_silent: int,
    channel: str,
    template: str,
    template_b: str = "",
    segments: list | None = None,
    risk_bands: list | None = None,
    include_digest: bool = False,
    gift_kind: str = "",
    gift_points: int = 0,
    coupon_pool: CouponPool | None = None,
    privilege: str = "",
    wait_days: int = 7,
    position: int | None = None,
) -> RecallStage:
    RecallPolicy.objects.select_for_update().filter(pk=policy.pk).first()  # one stage edit at a time
    if channel not in Channel.values:
        raise ApplicationError(_("Choose a channel."), field="channel")
    if gift_kind not in GiftKind.values:
        raise ApplicationError(_("Choose a gift."), field="gift_kind")
    segments = list(segments or [])
    risk_bands = list(risk_bands or [])
    if any(value not in Segment.values for value in segments):
        raise ApplicationError(_("Unknown segment."), field="segments")
    if any(value not in RiskBand.values or not value for value in risk_bands):
        raise ApplicationError(_("Unknown risk band."), field="risk_bands")
    points = _whole(gift_points or 0, "gift_points", 0, 1_000_000)
    if gift_kind == GiftKind.POINTS and points == 0:
        raise ApplicationError(_("Say how many points the bonus is."), field="gift_points")
    if gift_kind == GiftKind.COUPON:
        if coupon_pool is None:
            raise ApplicationError(_("Choose the coupon pool."), field="coupon_pool")
        if coupon_pool.community_id != policy.community_id:
            raise ApplicationError(_("Choose the coupon pool."), field="coupon_pool")
    stage = stage or RecallStage(policy=policy)
    stage.name = _name(name)
    stage.days_silent = _whole(days_silent, "days_silent", 1, 3650)
    stage.wait_days = _whole(wait_days, "wait_days", 0, 365)
    stage.channel = channel
    stage.template = template_check(template)
    if not stage.template:
        raise ApplicationError(_("Write the message."), field="template")
    stage.template_b = template_check(template_b, field="template_b")
    stage.segments, stage.risk_bands = segments, risk_bands
    stage.include_digest = bool(include_digest)
    stage.gift_kind = gift_kind
    stage.gift_points = points if gift_kind == GiftKind.POINTS else 0
    stage.coupon_pool = coupon_pool if gift_kind == GiftKind.COUPON else None
    stage.privilege = (privilege or "").strip()[:200]
    if stage.pk is None:
        top = policy.stages.aggregate(top=Max("position"))["top"] or 0
        stage.position = top + 1
    if position is not None:
        stage.position = _whole(position, "position", 1, 100)
    others = policy.stages.exclude(pk=stage.pk)
    if others.filter(position=stage.position).exists():
        raise ApplicationError(_("Another stage has this place in the order."), field="position")
    earlier = others.filter(position__lt=stage.position, days_silent__gt=stage.days_silent).first()
    later = others.filter(position__gt=stage.position, days_silent__lt=stage.days_silent).first()
    if earlier or later:
        raise ApplicationError(
            _("Stages fire in order: a later stage cannot need fewer silent days than an earlier one."),
            field="days_silent",
        )
    stage.save()
    return stage


@transaction.atomic
def stage_delete(*, stage: RecallStage) -> None:
    if stage.attempts.exists():
        raise ApplicationError(
            _("Members have been reached by this stage; its history stays. Deactivate the policy instead.")
        )
    stage.delete()


@transaction.atomic
def pool_create(*, community: Community, name: str, value="0") -> CouponPool:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError(_("Enter an amount like 20.00."), field="value") from None
    if not amount.is_finite() or amount < 0 or amount >= 100_000_000:
        raise ApplicationError(_("Enter an amount like 20.00."), field="value")
    name = _name(name)
    if CouponPool.objects.filter(community=community, name=name).exists():
        raise ApplicationError(_("Another pool has this name."), field="name")
    return CouponPool.objects.create(community=community, name=name, value=amount.quantize(Decimal("0.01")))


def coupons_add(*, pool: CouponPool, text: str) -> tuple[int, int]:
    """Codes one per line (or separated by commas or spaces). Returns (added, already there)."""
    codes = list(dict.fromkeys(part.strip() for part in (text or "").replace(",", "\n").split() if part.strip()))
    if not codes:
        raise ApplicationError(_("Paste at least one code."), field="codes")
    if len(codes) > MAX_CODES_PER_IMPORT:
        raise ApplicationError(_("Add at most 100,000 codes at a time."), field="codes")
    too_long = next((code for code in codes if len(code) > 64), None)
    if too_long:
        raise ApplicationError(
            _("A code is longer than 64 characters: %(code)s") % {"code": too_long[:70]}, field="codes"
        )
    before = pool.coupons.count()
    Coupon.objects.bulk_create([Coupon(pool=pool, code=code) for code in codes], ignore_conflicts=True, batch_size=2000)
    added = pool.coupons.count() - before
    return added, len(codes) - added


def opt_out(*, member: Member, source: str) -> OptOut:
    """No more recall messages for this member; open cycles stop at the engine's next run
    (and nothing already planned is sent: dispatch checks again)."""
    try:
        with transaction.atomic():
            return OptOut.objects.create(community_id=member.community_id, member=member, source=source)
    except IntegrityError:
        return OptOut.objects.get(member=member)


def opt_in(*, member: Member) -> None:
    OptOut.objects.filter(member=member).delete()


def opted_out(member: Member) -> bool:
    return OptOut.objects.filter(member=member).exists()
