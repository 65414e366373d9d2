"""The points ledger (积分): every grant and spend is a row, and a balance is their sum, so any
balance can be audited line by line. It sits here, low in the layers, because several apps
write to it: recall gives welcome-back bonuses, engagement gives check-in and post points."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.people import Member
from subgroups.models import Community


class PointsEntry(models.Model):
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="points")
    amount = models.IntegerField(_("points"), help_text=_("Negative for a spend."))
    reason = models.CharField(_("reason"), max_length=32)
    note = models.CharField(_("note"), max_length=200, blank=True)
    key = models.CharField(  # noqa: DJ001 - NULL means "no key"; many rows may have none
        _("idempotency key"), max_length=120, null=True, blank=True, help_text=_("One entry per key, ever.")
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(key__isnull=False), name="points_key_unique"),
        ]
        indexes = [models.Index(fields=["member", "created_at"], name="points_member_time")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.amount:+d} ({self.reason})"
