"""Content: the sensitive-word lexicon, posts and their two-step review, chat moderation flags,
digests, the content calendar and keyword auto-replies."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.json import UnicodeJSONEncoder
from members.models import Member
from subgroups.models import Community, Group, Platform


class WordCategory(models.TextChoices):
    POLITICAL = "political", _("Political")
    COMPETITOR = "competitor", _("Competitor")
    UNCIVIL = "uncivil", _("Uncivil")
    CUSTOM = "custom", _("Custom")


class WordAction(models.TextChoices):
    BLOCK = "block", _("Block")
    REVIEW = "review", _("Send to review")
    WARN = "warn", _("Warn the author")


# The source article's three classes: political words are blocked, competitors' names go to a
# person, uncivil words earn the author a warning.
CATEGORY_ACTION = {
    WordCategory.POLITICAL: WordAction.BLOCK,
    WordCategory.COMPETITOR: WordAction.REVIEW,
    WordCategory.UNCIVIL: WordAction.WARN,
    WordCategory.CUSTOM: WordAction.REVIEW,
}


class Lexicon(models.Model):
    """A community's word list settings, and the version stamp its compiled automaton is
    cached under: every change to its words bumps ``version`` and draws a new ``stamp`` (unique
    across databases and reused ids, so a cache never mistakes one lexicon for another)."""

    community = models.OneToOneField(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="lexicon"
    )
    use_default_list = models.BooleanField(_("use Canopy's default list"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    stamp = models.UUIDField(_("stamp"), default=uuid.uuid4, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lexicon")
        verbose_name_plural = _("lexicons")

    def __str__(self) -> str:
        return f"{self.community} v{self.version}"


class LexiconEntry(models.Model):
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="lexicon_entries"
    )
    word = models.CharField(_("word"), max_length=100)
    key = models.CharField(
        _("matching key"), max_length=100, editable=False, help_text=_("The word as the engine reads it.")
    )
    category = models.CharField(_("category"), max_length=16, choices=WordCategory.choices)
    action = models.CharField(
        _("action"), max_length=16, choices=WordAction.choices, blank=True, help_text=_("Empty: the category's.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sensitive word")
        verbose_name_plural = _("sensitive words")
        ordering = ["category", "word"]
        # One entry per word as the engine reads it: 傻X and 傻 x are the same word.
        constraints = [models.UniqueConstraint(fields=["community", "key"], name="lexicon_word_once")]

    def __str__(self) -> str:
        return self.word

    @property
    def effective_action(self) -> str:
        return self.action or CATEGORY_ACTION[self.category]

    @property
    def effective_action_label(self) -> str:
        return WordAction(self.effective_action).label


class AllowedTerm(models.Model):
    """A harmless longer word that contains a listed one (打击赌博 around 赌博)."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="allowed_terms"
    )
    term = models.CharField(_("term"), max_length=100)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("allowed term")
        verbose_name_plural = _("allowed terms")
        ordering = ["term"]
        constraints = [models.UniqueConstraint(fields=["community", "term"], name="allowed_term_once")]

    def __str__(self) -> str:
        return self.term


class PostKind(models.TextChoices):
    KNOWLEDGE = "knowledge", _("Knowledge")
    NEWS = "news", _("News")
    TOPIC = "topic", _("Topic")
    FUN = "fun", _("Fun")
    EMOTIONAL = "emotional", _("Emotional")
    ANNOUNCEMENT = "announcement", _("Announcement")
    DIGEST = "digest", _("Digest")


# The content mix target: 70% practical value, 20% fun, 10% emotional (source 004).
MIX_TARGET = {"value": 70, "fun": 20, "emotional": 10}
MIX_GROUP = {
    PostKind.KNOWLEDGE: "value",
    PostKind.NEWS: "value",
    PostKind.TOPIC: "value",
    PostKind.FUN: "fun",
    PostKind.EMOTIONAL: "emotional",
}


# What a schedule may push: anything but a digest (digests come from the content cycle).
SCHEDULE_KINDS = [choice for choice in PostKind.choices if choice[0] != PostKind.DIGEST]


class PostStatus(models.TextChoices):
    BLOCKED = "blocked", _("Blocked")
    FIRST_REVIEW = "first_review", _("Waiting for first review")
    FINAL_REVIEW = "final_review", _("Waiting for final review")
    PUBLISHED = "published", _("Published")
    REJECTED = "rejected", _("Rejected")


class PostSource(models.TextChoices):
    MEMBER = "member", _("Member")
    STAFF = "staff", _("Staff")
    CALENDAR = "calendar", _("Content calendar")
    DIGEST = "digest", _("Digest")


class Post(models.Model):
    """A post in a group. Members' posts pass the word check, then a first review by an admin
    and a final review by an owner (三级审核), unless the group skips review."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        Member, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    source = models.CharField(_("source"), max_length=16, choices=PostSource.choices, default=PostSource.MEMBER)
    kind = models.CharField(_("kind"), max_length=16, choices=PostKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"))
    body_html = models.TextField(_("body (sanitised HTML)"), editable=False)
    status = models.CharField(_("status"), max_length=16, choices=PostStatus.choices)
    featured = models.BooleanField(_("featured"), default=False, help_text=_("优质内容: goes into the digest."))
    word_hits = models.JSONField(_("word hits"), default=list, blank=True, encoder=UnicodeJSONEncoder)
    status_token = models.CharField(_("status link token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["group", "status", "created_at"], name="post_queue"),
            models.Index(fields=["community", "status", "published_at"], name="post_published"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="published", published_at__isnull=False) | ~Q(status="published"),
                name="post_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def latest_step(self) -> ReviewStep | None:
        """The last step (from the prefetched steps when there are some)."""
        steps = sorted(self.steps.all(), key=lambda step: (step.at, step.pk))
        return steps[-1] if steps else None

    @property
    def hits_display(self) -> list[dict]:
        """The word check's hits with their category and action in the reader's language."""
        categories, actions = dict(WordCategory.choices), dict(WordAction.choices)
        return [
            {
                **hit,
                "category_label": categories.get(hit.get("category"), hit.get("category")),
                "action_label": actions.get(hit.get("action"), hit.get("action")),
            }
            for hit in self.word_hits
        ]


class ReviewStage(models.TextChoices):
    CHECK = "check", _("Word check")
    FIRST = "first", _("First review")
    FINAL = "final", _("Final review")


class ReviewDecision(models.TextChoices):
    BLOCKED = "blocked", _("Blocked")
    TO_REVIEW = "to_review", _("Sent to review")
    WARNED = "warned", _("Warned")
    PASSED = "passed", _("Passed")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")
    FEATURED = "featured", _("Published as featured")
    REJECTED = "rejected", _("Rejected")


# What an owner's final review decides.
FINAL_DECISIONS = [
    (ReviewDecision.PUBLISHED.value, ReviewDecision.PUBLISHED.label),
    (ReviewDecision.FEATURED.value, ReviewDecision.FEATURED.label),
    (ReviewDecision.REJECTED.value, ReviewDecision.REJECTED.label),
]


class ReviewStep(models.Model):
    """One step of a post's way: who (or the word check), when, the decision and a note."""

    post = models.ForeignKey(Post, verbose_name=_("post"), on_delete=models.CASCADE, related_name="steps")
    stage = models.CharField(_("stage"), max_length=16, choices=ReviewStage.choices)
    decision = models.CharField(_("decision"), max_length=16, choices=ReviewDecision.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("review step")
        verbose_name_plural = _("review steps")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.post} · {self.get_stage_display()} · {self.get_decision_display()}"


class ContentSettings(models.Model):
    """A group's content settings."""

    group = models.OneToOneField(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="content_settings"
    )
    skip_review = models.BooleanField(
        _("publish without review"), default=False, help_text=_("Posts the word check passes are published at once.")
    )

    class Meta:
        verbose_name = _("content settings")
        verbose_name_plural = _("content settings")

    def __str__(self) -> str:
        return str(self.group)


class AuthorWarning(models.Model):
    """A warning for uncivil words. Three in 30 days flag the member for the admins."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="warnings")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, verbose_name=_("post"), on_delete=models.SET_NULL, null=True, blank=True)
    words = models.JSONField(_("words"), default=list, encoder=UnicodeJSONEncoder)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")
        ordering = ["-at"]
        indexes = [models.Index(fields=["member", "at"], name="warning_recent")]

    def __str__(self) -> str:
        return f"{self.member} · {self.at:%Y-%m-%d}"


class FlagStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class MemberFlag(models.Model):
    """A member the admins should look at (e.g. three warnings in 30 days)."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="flags")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("member flag")
        verbose_name_plural = _("member flags")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "group"], condition=Q(status="open"), name="member_flag_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.reason}"


class ModerationFlag(models.Model):
    """A chat message from an integration that the word engine caught."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="moderation_flags")
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    external_message_id = models.CharField(_("message id"), max_length=128)
    author = models.ForeignKey(
        Member, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_external_id = models.CharField(_("author's account"), max_length=128, blank=True)
    excerpt = models.TextField(_("excerpt"))
    hits = models.JSONField(_("hits"), default=list, encoder=UnicodeJSONEncoder)
    action = models.CharField(_("action"), max_length=16, choices=WordAction.choices)
    status = models.CharField(_("status"), max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("moderation flag")
        verbose_name_plural = _("moderation flags")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "platform", "external_message_id"], name="moderation_flag_once_per_message"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} · {self.external_message_id}"


class DigestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class Digest(models.Model):
    """The week's featured posts from the sub-groups, drafted for the hub (精华整理 → 主群展示)."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"))
    posts = models.ManyToManyField(Post, verbose_name=_("featured posts"), related_name="digests", blank=True)
    status = models.CharField(_("status"), max_length=16, choices=DigestStatus.choices, default=DigestStatus.DRAFT)
    published_post = models.OneToOneField(
        Post, verbose_name=_("published as"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["community", "period_start"], name="digest_once_per_period")]

    def __str__(self) -> str:
        return self.title


class Schedule(models.Model):
    """A recurring push (内容日历): e.g. knowledge every Tuesday and Thursday at 20:00."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(_("kind"), max_length=16, choices=PostKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"))
    weekdays = models.JSONField(_("weekdays"), default=list, help_text=_("0 = Monday … 6 = Sunday"))
    time = models.TimeField(_("time"), help_text=_("In the community's time zone."))
    is_active = models.BooleanField(_("active"), default=True)
    active_since = models.DateTimeField(
        _("active since"), default=timezone.now, help_text=_("Created or last resumed: earlier slots are not pushed.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("scheduled push")
        verbose_name_plural = _("scheduled pushes")
        ordering = ["time", "pk"]

    def __str__(self) -> str:
        return self.title


class ScheduleRun(models.Model):
    """One day's run of a schedule: at most one, so a task running twice pushes once."""

    schedule = models.ForeignKey(Schedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="runs")
    day = models.DateField(_("day"))
    post = models.OneToOneField(Post, verbose_name=_("post"), on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("schedule run")
        verbose_name_plural = _("schedule runs")
        constraints = [models.UniqueConstraint(fields=["schedule", "day"], name="schedule_runs_once_a_day")]

    def __str__(self) -> str:
        return f"{self.schedule} · {self.day:%Y-%m-%d}"


class MatchMode(models.TextChoices):
    EXACT = "exact", _("The whole message is")
    CONTAINS = "contains", _("The message contains")


class AutoReply(models.Model):
    """A keyword rule for the bots (关键词自动回复)."""

    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="auto_replies")
    keyword = models.CharField(_("keyword"), max_length=100)
    match = models.CharField(_("match"), max_length=16, choices=MatchMode.choices, default=MatchMode.CONTAINS)
    reply = models.TextField(_("reply"))
    priority = models.SmallIntegerField(_("priority"), default=0, help_text=_("Higher wins when several match."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("auto-reply")
        verbose_name_plural = _("auto-replies")
        ordering = ["-priority", "pk"]

    def __str__(self) -> str:
        return self.keyword
