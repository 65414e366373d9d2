"""The member's own page, ``/me/<token>/``, without a login: their balance, level and streak, a
check-in button, the shop, their redemptions and their ledger. Whoever holds the link acts as
the member (a magic link; see ``MemberPass``). Every refusal is a message on the page."""

from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from core.net import client_ip
from core.ratelimit import allow
from engagement import selectors
from engagement.models import CheckIn, CheckInSource, RedemptionStatus, RewardItem
from engagement.services.checkins import checkin_record, local_day
from engagement.services.levels import levels_for
from engagement.services.passes import member_for_pass, pass_holder
from engagement.services.points import points_rules
from engagement.services.shop import reward_lock, reward_redeem
from members.models import Member
from subgroups.locale import member_page

# Posts per link and per address in ten minutes: plenty for a person, little for a script.
POSTS_PER_LINK = 30
POSTS_PER_ADDRESS = 120
WINDOW = 600


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(pass_holder)
def me(request: HttpRequest, token: str) -> HttpResponse:
    member = member_for_pass(token)
    if request.method == "POST":
        ip = client_ip(request) or ""
        if not allow("me-link", token[:32], limit=POSTS_PER_LINK, window_seconds=WINDOW) or (
            ip and not allow("me-ip", ip, limit=POSTS_PER_ADDRESS, window_seconds=WINDOW)
        ):
            messages.error(request, _("Too many tries in a short time. Please wait a few minutes."))
            return _page(request, member, token, status=429)
        action = request.POST.get("action", "")
        if action == "check_in":
            _check_in(request, member)
        elif action == "redeem":
            _redeem(request, member)
        else:
            messages.error(request, _("Nothing to do."))
        return redirect("engagement:me", token)
    return _page(request, member, token)


def _check_in(request: HttpRequest, member: Member) -> None:
    try:
        result = checkin_record(member=member, source=CheckInSource.PAGE)
    except ApplicationError as error:
        messages.error(request, error.message)
        return
    if not result.created:
        messages.info(request, _("You have already checked in today. See you tomorrow!"))
        return
    text = _("Checked in: +%(points)d points. %(days)d days in a row.") % {
        "points": result.points,
        "days": result.streak.current,
    }
    if result.streak_bonus:
        text += " " + _("Streak reward: +%(points)d points!") % {"points": result.streak_bonus}
    messages.success(request, text)


def _redeem(request: HttpRequest, member: Member) -> None:
    raw = request.POST.get("item", "")
    valid = raw.isdigit() and len(raw) <= 18
    item = RewardItem.objects.filter(community_id=member.community_id, pk=int(raw)).first() if valid else None
    if item is None:
        messages.error(request, _("No such reward."))
        return
    try:
        reward_redeem(member=member, item=item)
    except ApplicationError as error:
        messages.error(request, error.message)
        return
    messages.success(
        request,
        _("You redeemed “%(item)s” for %(cost)d points. We'll be in touch.") % {"item": item.name, "cost": item.cost},
    )


def _page(request: HttpRequest, member: Member, token: str, *, status: int = 200) -> HttpResponse:
    community = member.community
    standing = selectors.member_standing(member, levels=levels_for(community=community))
    today = local_day(community, timezone.now())
    items = []
    for item in selectors.rewards(community).filter(is_active=True):
        lock = reward_lock(member=member, item=item, lifetime=standing.lifetime, best_streak=standing.streak.best)
        items.append(
            {
                "item": item,
                "lock": lock,
                "sold_out": item.stock is not None and item.stock <= 0,
                "missing": max(0, item.cost - standing.balance),
            }
        )
    lines = selectors.ledger(member)
    context = {
        "member": member,
        "community": community,
        "token": token,
        "standing": standing,
        "rules": points_rules(community=community),
        "checked_in_today": CheckIn.objects.filter(member=member, day=today).exists(),
        "items": items,
        "redemptions": member.redemptions.select_related("item").order_by("-created_at")[:20],
        "lines": list(reversed(lines))[:50],
        "pending": RedemptionStatus.PENDING,
    }
    # Times read in the community's own time zone, like on its dashboard pages.
    with timezone.override(zoneinfo.ZoneInfo(community.time_zone)):
        return render(request, "engagement/public/me.html", context, status=status)
