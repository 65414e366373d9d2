"""The community tree: one hub (主群) per community and its sub-groups (小群), nested to any depth.

The tree knows no people: who may see or change it is answered by the access policy
(``subgroups.access``), which a higher layer provides.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from mptt.models import MPTTModel, TreeForeignKey

# The languages a community can speak to its members in: Canopy's own UI languages, each named
# in itself as language pickers do.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]


def default_language() -> str:
    """A new community's language unless its creator picks one (``CANOPY_DEFAULT_LANGUAGE``)."""
    return settings.CANOPY_DEFAULT_LANGUAGE


class Platform(models.TextChoices):
    WECHAT = "wechat", _("WeChat")
    WECOM = "wecom", _("WeCom")
    QQ = "qq", "QQ"
    DISCORD = "discord", "Discord"
    TELEGRAM = "telegram", "Telegram"
    SLACK = "slack", "Slack"
    OTHER = "other", _("Other")


# A starting capacity for a new group, from each platform's member cap. WeChat caps a group at
# 500 and WeCom's customer groups likewise; operators set the real figure per group.
PLATFORM_DEFAULT_CAPACITY: dict[str, int] = {
    Platform.WECHAT: 500,
    Platform.WECOM: 500,
    Platform.QQ: 2000,
    Platform.DISCORD: 250_000,
    Platform.TELEGRAM: 200_000,
    Platform.SLACK: 10_000,
    Platform.OTHER: 500,
}
MAX_CAPACITY = 1_000_000

# A WeChat scan-to-join group QR stops working once the group has 200 members, and expires
# after 7 days; live codes respect both by default.
WECHAT_QR_MEMBER_LIMIT = 200
WECHAT_QR_LIFETIME_DAYS = 7

# The welcome message's three parts, from the source article: identity (身份认同), what the
# group offers (社群服务) and its rules (社群规则).
# The welcome a group sends when it has none of its own, in the language it speaks to its members
# (zh-hans: 欢迎 {name} 加入「{group}」！从今天起你就是我们的一员了。…).
DEFAULT_WELCOME_TEMPLATE = _(
    "Welcome {name} to “{group}”! From today you are one of us.\n"
    "Here we share know-how, answer questions and learn from each other; ask the owner or a guide any time.\n"
    "Please read the group rules first:\n{rules}"
)


class GroupKind(models.TextChoices):
    HUB = "hub", _("Hub")
    INTEREST = "interest", _("Interest")
    TIER = "tier", _("Tier")
    REGION = "region", _("Region")
    LIFECYCLE = "lifecycle", _("Lifecycle")
    CUSTOM = "custom", _("Custom")


SUBGROUP_KINDS = [choice for choice in GroupKind.choices if choice[0] != GroupKind.HUB]


class GroupStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FULL = "full", _("Full")
    ARCHIVED = "archived", _("Archived")


class LifecycleStage(models.TextChoices):
    """Stages of a member's path, e.g. exam preparation: 新手入门 → 强化复习 → 冲刺押题 → 复试调剂."""

    NEWCOMER = "newcomer", _("Newcomer")
    INTENSIVE = "intensive", _("Intensive")
    SPRINT = "sprint", _("Sprint")
    ALUMNI = "alumni", _("Alumni")


class Community(models.Model):
    """The unit of tenancy: one hub group and everything below it (社群)."""

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    hub = models.OneToOneField(
        "Group",
        verbose_name=_("hub"),
        on_delete=models.RESTRICT,  # a hub goes only with its community
        null=True,
        blank=True,
        related_name="+",
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    language = models.CharField(
        _("language"),
        max_length=16,
        choices=LANGUAGES,
        default=default_language,
        help_text=_("What members receive and see is written in this language (a member's own, where known)."),
    )
    banned_name_words = models.JSONField(
        _("banned words in group names"),
        default=list,
        blank=True,
        help_text=_("Group names may not contain these words, e.g. 高级 or 精英."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The hub's name (select_related("hub") to avoid a query)."""
        return self.hub.name if self.hub_id else self.slug


class Group(MPTTModel):
    """A hub or a sub-group on one chat platform (群)."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="groups"
    )
    parent = TreeForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=GroupKind.choices)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, default=Platform.WECHAT)
    external_id = models.CharField(
        _("external id"), max_length=128, blank=True, help_text=_("The group's id on its platform.")
    )
    capacity = models.PositiveIntegerField(_("capacity"))
    member_count = models.PositiveIntegerField(_("members"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=GroupStatus.choices, default=GroupStatus.OPEN)
    description = models.TextField(_("description"), blank=True)
    rules = models.TextField(_("rules"), blank=True)
    admission_criteria = models.JSONField(
        _("admission criteria"),
        default=dict,
        blank=True,
        help_text=_(
            "Who belongs here: tier (min_purchases, annual_member), region (cities), "
            "lifecycle (stage), interest (tags)."
        ),
    )
    welcome_template = models.TextField(
        _("welcome message"),
        blank=True,
        help_text=_("Sent to each newcomer. Use {name}, {group} and {rules}. Empty: the default welcome."),
    )
    join_link = models.CharField(
        _("join link"),
        max_length=500,
        blank=True,
        help_text=_("The platform's invite link or group QR address, shown to people routed here."),
    )
    join_link_updated_at = models.DateTimeField(_("join link updated"), null=True, blank=True)
    transition_ends_at = models.DateTimeField(
        _("transition window ends"),
        null=True,
        blank=True,
        help_text=_("A new sub-group's first weeks (过渡期): hub announcements are mirrored and a guide helps."),
    )
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    over_capacity_since = models.DateTimeField(
        _("over capacity since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The platform reported more members than the capacity (Canopy admits no one past it)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class MPTTMeta:
        # No order_insertion_by: inserting a root in order would renumber other communities' trees.
        parent_attr = "parent"

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        constraints = [
            models.UniqueConstraint(fields=["community", "slug"], name="group_slug_unique_in_community"),
            models.UniqueConstraint(fields=["community"], condition=Q(kind="hub"), name="group_one_hub_per_community"),
            models.UniqueConstraint(
                fields=["community", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="group_external_id_unique_in_community",
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="group_capacity_positive"),
            # Canopy admits no one past capacity; only a join the platform reports (the truth
            # about who is in a chat) may pass it, and it marks the group over capacity.
            models.CheckConstraint(
                condition=Q(member_count__lte=F("capacity")) | Q(over_capacity_since__isnull=False),
                name="group_not_over_capacity",
            ),
            models.CheckConstraint(
                condition=(Q(kind="hub") & Q(parent__isnull=True)) | (~Q(kind="hub") & Q(parent__isnull=False)),
                name="group_hub_only_at_root",
            ),
            models.CheckConstraint(
                condition=(Q(status="archived") & Q(archived_at__isnull=False))
                | (~Q(status="archived") & Q(archived_at__isnull=True)),
                name="group_archived_has_time",
            ),
        ]
        indexes = [models.Index(fields=["community", "status"], name="group_community_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_hub(self) -> bool:
        return self.kind == GroupKind.HUB

    @property
    def is_archived(self) -> bool:
        return self.status == GroupStatus.ARCHIVED

    @property
    def in_transition(self) -> bool:
        from django.utils import timezone

        return self.transition_ends_at is not None and self.transition_ends_at > timezone.now()

    @property
    def room(self) -> int:
        return max(self.capacity - self.member_count, 0)

    @property
    def fill_ratio(self) -> float:
        return self.member_count / self.capacity if self.capacity else 0.0

    @property
    def over_capacity(self) -> bool:
        """The platform reports more members than Canopy's capacity allows."""
        return self.member_count > self.capacity

    @property
    def fill_percent(self) -> int:
        return min(100, round(100 * self.fill_ratio))
