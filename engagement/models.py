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
