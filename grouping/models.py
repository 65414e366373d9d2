"""Smart grouping (AI 智能分群): the needs survey (需求调研问卷), the demand clusters its answers
show, the sub-groups they suggest, and per-member sub-group recommendations.

A community has one **needs survey** of ordered **questions**; the four of the source article
(topics, preferred size, message frequency, willing to be an admin) have fixed keys the analysis
reads. Choices are ``{"value", "label"}``: the value is what answers store and never changes,
the label is what people read, in the language the survey was made in. A member answers once;
answering again updates the same **response**.

A **group suggestion** is a topic enough members asked for, with a willing admin and no group
with room: accepting it creates the sub-group by the naming convention and invites the members.
A **recommendation run** is one training of the model that learns which interest sub-groups fit
which members, with its held-out quality, and its top three **recommendations** per member.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Invitation, Member
from subgroups.models import Community, Group


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TEXT = "text", _("Text")


class ResponseSource(models.TextChoices):
    PAGE = "page", _("Survey page")
    BOT = "bot", _("Bot")


class NeedsSurvey(models.Model):
    """The community's needs survey (需求调研问卷), answered on each member's survey page or
    through a bot."""

    community = models.OneToOneField(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="needs_survey"
    )
    title = models.CharField(_("title"), max_length=200)
    intro = models.TextField(_("introduction"), blank=True, help_text=_("Shown above the questions."))
    is_open = models.BooleanField(_("open for answers"), default=True)
    min_members = models.PositiveIntegerField(
        _("members needed for a suggestion"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text=_("A topic becomes a sub-group suggestion once this many members ask for it."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("needs survey")
        verbose_name_plural = _("needs surveys")

    def __str__(self) -> str:
        return self.title


class SurveyQuestion(models.Model):
    survey = models.ForeignKey(
        NeedsSurvey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="questions"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    key = models.SlugField(_("key"), max_length=40, help_text=_("What answers are stored under, e.g. topics."))
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=QuestionKind.choices)
    required = models.BooleanField(_("required"), default=True)
    choices = models.JSONField(_("choices"), default=list, blank=True, help_text=_('[{"value": …, "label": …}]'))

    class Meta:
        verbose_name = _("survey question")
        verbose_name_plural = _("survey questions")
        ordering = ["survey", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["survey", "key"], name="survey_question_key_unique")]

    def __str__(self) -> str:
        return self.text

    @property
    def labels(self) -> dict[str, str]:
        return {choice["value"]: choice["label"] for choice in self.choices}


class SurveyResponse(models.Model):
    survey = models.ForeignKey(
        NeedsSurvey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="responses"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    answers = models.JSONField(_("answers"), default=dict, help_text=_("Choice values by question key."))
    source = models.CharField(_("source"), max_length=8, choices=ResponseSource.choices, default=ResponseSource.PAGE)
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-updated_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["survey", "member"], name="survey_response_once_per_member")]

    def __str__(self) -> str:
        return f"{self.member} · {self.survey}"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DISMISSED = "dismissed", _("Dismissed")


class GroupSuggestion(models.Model):
    """A sub-group the survey's demand suggests (需求聚类点): a topic enough members asked for,
    with at least one willing admin and no existing group with room for them."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(
        NeedsSurvey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="suggestions"
    )
    topic = models.CharField(_("topic"), max_length=50, help_text=_("The topic choice's value."))
    attribute = models.CharField(_("attribute"), max_length=50, help_text=_("What the group name says it is about."))
    parent = models.ForeignKey(Group, verbose_name=_("parent"), on_delete=models.CASCADE, related_name="+")
    proposed_name = models.CharField(_("proposed name"), max_length=100)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    preferred_size = models.CharField(_("preferred size"), max_length=50, blank=True)
    preferred_frequency = models.CharField(_("preferred frequency"), max_length=50, blank=True)
    interested = models.PositiveIntegerField(_("members who asked"), default=0)
    recommended = models.PositiveIntegerField(_("members recommended"), default=0)
    willing_admins = models.PositiveIntegerField(_("willing admins"), default=0)
    score = models.FloatField(_("score"), default=0)
    members = models.ManyToManyField(
        Member, verbose_name=_("matched members"), through="SuggestedMember", related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    group = models.ForeignKey(
        Group, verbose_name=_("group created"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invited_count = models.PositiveIntegerField(_("invitations sent"), default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("group suggestion")
        verbose_name_plural = _("group suggestions")
        ordering = ["-score", "pk"]
        constraints = [
            # One open suggestion per topic: a refresh updates it rather than adding another.
            models.UniqueConstraint(
                fields=["community", "topic"], condition=Q(status="pending"), name="group_suggestion_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="group_suggestion_decided_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.proposed_name


class MatchReason(models.TextChoices):
    ASKED = "asked", _("Asked for it")
    RECOMMENDED = "recommended", _("Recommended")


class SuggestedMember(models.Model):
    suggestion = models.ForeignKey(
        GroupSuggestion, verbose_name=_("suggestion"), on_delete=models.CASCADE, related_name="matches"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("why"), max_length=16, choices=MatchReason.choices)
    willing_admin = models.BooleanField(_("willing to be an admin"), default=False)
    score = models.FloatField(_("model score"), null=True, blank=True)
    invitation = models.ForeignKey(
        Invitation, verbose_name=_("invitation"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("suggested member")
        verbose_name_plural = _("suggested members")
        constraints = [
            models.UniqueConstraint(fields=["suggestion", "member"], name="suggested_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.suggestion}"


class RunStatus(models.TextChoices):
    OK = "ok", _("Trained")
    NOT_ENOUGH_DATA = "not_enough_data", _("Not enough data")
    FAILED = "failed", _("Failed")


class RecommendationRun(models.Model):
    """One training of the sub-group recommender, with its quality on held-out members."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    trained_at = models.DateTimeField(_("trained"), default=timezone.now)
    n_members = models.PositiveIntegerField(_("members"), default=0)
    n_labelled = models.PositiveIntegerField(_("members in interest groups"), default=0)
    n_train = models.PositiveIntegerField(_("trained on"), default=0)
    n_test = models.PositiveIntegerField(_("held out"), default=0)
    n_labels = models.PositiveIntegerField(_("groups learned"), default=0)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices)
    error = models.TextField(_("why not"), blank=True)

    class Meta:
        verbose_name = _("recommendation run")
        verbose_name_plural = _("recommendation runs")
        ordering = ["-trained_at", "-pk"]
        indexes = [models.Index(fields=["community", "status", "trained_at"], name="grouping_run_latest")]

    def __str__(self) -> str:
        return f"{self.community} · {self.trained_at:%Y-%m-%d %H:%M}"


class MemberRecommendation(models.Model):
    run = models.ForeignKey(
        RecommendationRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="recommendations"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"))
    rank = models.PositiveSmallIntegerField(_("rank"))

    class Meta:
        verbose_name = _("member recommendation")
        verbose_name_plural = _("member recommendations")
        ordering = ["run", "member", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "member", "group"], name="member_recommendation_once"),
        ]
        indexes = [models.Index(fields=["run", "group", "score"], name="grouping_rec_by_group")]

    def __str__(self) -> str:
        return f"{self.member} → {self.group} ({self.score:.2f})"
