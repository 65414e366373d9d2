"""Models of engagement: the member's pass (their private link to their own page) first;
check-ins, the points rules, levels, the shop and organised events follow."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


def _pass_token() -> str:
    return secrets.token_urlsafe(18)


class MemberPass(models.Model):
    """A member's private link (``/me/<token>/``): their points, level, streak and check-in
    button, the shop, their invitation link, the needs survey and peer votes. Whoever holds
    the link acts as the member, like a magic link, so it is long, random and can be reset."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="member_pass"
    )
    token = models.CharField(_("link token"), max_length=32, unique=True, default=_pass_token)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("member pass")
        verbose_name_plural = _("member passes")

    def __str__(self) -> str:
        return f"{self.member} · /me/"


class PointsRules(models.Model):
    """How many points each deed earns in a community (积分规则). One row per community, made
    with these defaults on first use; 0 switches a rule off."""

    community = models.OneToOneField(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="points_rules"
    )
    check_in = models.PositiveIntegerField(_("check-in"), default=5)
    post = models.PositiveIntegerField(_("published post"), default=10)
    featured_post = models.PositiveIntegerField(_("featured post"), default=30)
    invite_accepted = models.PositiveIntegerField(_("invitation accepted"), default=20)
    event_organised = models.PositiveIntegerField(_("event organised"), default=50)
    streak_days = models.PositiveSmallIntegerField(_("streak length"), default=7)
    streak_bonus = models.PositiveIntegerField(_("streak reward"), default=30)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    RULES = ("check_in", "post", "featured_post", "invite_accepted", "event_organised", "streak_bonus")

    class Meta:
        verbose_name = _("points rules")
        verbose_name_plural = _("points rules")

    def __str__(self) -> str:
        return f"{self.community} · {self._meta.verbose_name}"
