"""Live join codes (活码): one stable link for a pool of sibling groups."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from subgroups.models import SUBGROUP_KINDS, Community, Group, GroupKind


class LiveCode(models.Model):
    """Routes each newcomer to the first group in its pool with room; when all are full it
    opens the next group by the naming convention (…-摄影小群03), up to ``max_groups``."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("public code"), max_length=32, unique=True)
    parent = models.ForeignKey(
        Group,
        verbose_name=_("opens new groups under"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    attribute = models.CharField(
        _("attribute"), max_length=40, help_text=_("For new groups' names: <hub>-<attribute>小群<NN>.")
    )
    kind = models.CharField(_("kind of new groups"), max_length=16, choices=SUBGROUP_KINDS, default=GroupKind.INTEREST)
    join_limit = models.PositiveIntegerField(
        _("route while fewer than"),
        null=True,
        blank=True,
        help_text=_("Members per group before routing moves on; WeChat group QR codes stop working at 200."),
    )
    max_groups = models.PositiveSmallIntegerField(_("at most this many groups"), default=10)
    guide = models.ForeignKey(
        "members.Member",
        verbose_name=_("guide for new groups"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    scan_count = models.PositiveIntegerField(_("scans"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("live code")
        verbose_name_plural = _("live codes")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class LiveCodeGroup(models.Model):
    """A group in a live code's pool, in routing order."""

    code = models.ForeignKey(LiveCode, verbose_name=_("live code"), on_delete=models.CASCADE, related_name="pool")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("group in a live code's pool")
        verbose_name_plural = _("groups in live codes' pools")
        ordering = ["code", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["code", "group"], name="livecode_group_once")]

    def __str__(self) -> str:
        return f"{self.code} · {self.group}"
