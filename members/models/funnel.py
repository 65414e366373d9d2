"""The way in (入群路径): screening questions, applications, invitations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subgroups.models import Community, Group, Platform


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")


class Question(models.Model):
    """One question of a group's screening questionnaire (入群问卷)."""

    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=QuestionKind.choices)
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(_("choices"), default=list, blank=True, help_text=_("For choice questions."))
    show_if_question = models.ForeignKey(
        "self",
        verbose_name=_("show only if"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dependents",
        help_text=_("A logic jump: ask this only when that earlier question got one of the answers below."),
    )
    show_if_answers = models.JSONField(_("… was answered"), default=list, blank=True)

    class Meta:
        verbose_name = _("screening question")
        verbose_name_plural = _("screening questions")
        ordering = ["group", "position", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def is_choice(self) -> bool:
        return self.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE)


class KnockoutOperator(models.TextChoices):
    ANY_OF = "any_of", _("is any of")
    AT_LEAST = "at_least", _("is at least")
    LESS_THAN = "less_than", _("is less than")
    CONTAINS = "contains", _("contains the text")


class KnockoutAction(models.TextChoices):
    APPROVE = "approve", _("Approve automatically")
    REJECT = "reject", _("Reject automatically")


class KnockoutRule(models.Model):
    """An answer that decides the application on the spot (淘汰/直通规则)."""

    question = models.ForeignKey(Question, verbose_name=_("question"), on_delete=models.CASCADE, related_name="rules")
    operator = models.CharField(_("when the answer"), max_length=16, choices=KnockoutOperator.choices)
    value = models.JSONField(_("value"), help_text=_("A list of choices, a number, or a piece of text."))
    action = models.CharField(_("then"), max_length=16, choices=KnockoutAction.choices)
    reason = models.CharField(_("reason"), max_length=200, help_text=_("Recorded with the decision."))

    class Meta:
        verbose_name = _("knockout rule")
        verbose_name_plural = _("knockout rules")
        ordering = ["question", "pk"]

    def __str__(self) -> str:
        return f"{self.question}: {self.get_operator_display()} {self.value} → {self.get_action_display()}"


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Application(models.Model):
    """A request to join a group (入群申请), from the public form or a bot."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="applications")
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="applications",
        help_text=_("The community member this applicant is, once known."),
    )
    display_name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    referred_by = models.ForeignKey(
        "members.Member",
        verbose_name=_("invited by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The member whose personal invitation link brought this applicant."),
    )
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, blank=True)
    external_user_id = models.CharField(_("user id on the platform"), max_length=128, blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    contact_key = models.CharField(
        _("contact key"), max_length=200, help_text=_("The normalised contact, for duplicates and rate limits.")
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_automatically = models.BooleanField(_("decided by a rule"), default=False)
    decision_reason = models.TextField(_("reason"), blank=True)
    status_token = models.CharField(_("status link token"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "contact_key"],
                condition=Q(status="pending"),
                name="application_one_pending_per_contact",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="application_decided_has_time"
            ),
        ]
        indexes = [models.Index(fields=["group", "status", "submitted_at"], name="application_queue")]

    def __str__(self) -> str:
        return f"{self.display_name} → {self.group}"

    @property
    def is_pending(self) -> bool:
        return self.status == ApplicationStatus.PENDING


class Invitation(models.Model):
    """A single-use link into a group, sent after approval (邀请)."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="invitations")
    application = models.OneToOneField(
        Application,
        verbose_name=_("application"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitation",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
        help_text=_("For an invitation to someone already in the community, e.g. into a suggested sub-group."),
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    membership = models.OneToOneField(
        "members.Membership",
        verbose_name=_("membership"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.group} · {self.created_at:%Y-%m-%d}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"
