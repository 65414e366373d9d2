"""The join funnel (入群路径): application → review → invitation → joined → welcome."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, RateLimited
from core.ratelimit import allow
from core.text import has_invalid_characters
from members import rules
from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    KnockoutAction,
    KnockoutOperator,
    Member,
    Membership,
    MembershipSource,
    MembershipStatus,
    Question,
    QuestionKind,
)
from members.services.people import handle_add, member_by_handle, member_create, membership_add
from outbox.models import MessageKind, OutboundMessage
from outbox.services import message_enqueue
from subgroups.locale import member_locale
from subgroups.models import DEFAULT_WELCOME_TEMPLATE, Group, GroupKind
from subgroups.rules import render_welcome

# --- The questionnaire ----------------------------------------------------------------------


def question_field(question: Question) -> str:
    """The name of a question's answer, in forms and in the API's ``answers`` object."""
    return f"q_{question.pk}"


def _matches(answer: Any, accepted: list) -> bool:
    if isinstance(answer, list):
        return any(item in accepted for item in answer)
    return answer in accepted


def visible_questions(questions: list[Question], answers: dict[str, Any]) -> list[Question]:
    """The questions asked, given the answers so far: logic jumps hide a question unless the
    question it depends on is itself asked and got one of the listed answers."""
    shown: dict[int, bool] = {}
    for question in questions:
        parent = question.show_if_question_id
        shown[question.pk] = parent is None or (
            shown.get(parent, False) and _matches(answers.get(f"q_{parent}"), question.show_if_answers or [])
        )
    return [question for question in questions if shown[question.pk]]


def _clean_answer(question: Question, value: Any) -> Any:
    """The answer in its stored form, or ApplicationError. ``None`` means not answered."""
    if value in (None, "", []):
        return None
    if question.kind == QuestionKind.SINGLE:
        if not isinstance(value, str) or value not in question.choices:
            raise ApplicationError(_("Choose one of the offered answers."))
        return value
    if question.kind == QuestionKind.MULTIPLE:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(
            isinstance(item, str) and item in question.choices for item in values
        ):
            raise ApplicationError(_("Choose among the offered answers."))
        return [choice for choice in question.choices if choice in values]
    if question.kind == QuestionKind.NUMBER:
        if isinstance(value, bool):
            raise ApplicationError(_("Enter a number."))
        try:
            number = float(value) if not isinstance(value, (int, float)) else value
        except (TypeError, ValueError):
            raise ApplicationError(_("Enter a number.")) from None
        if number != number or abs(number) > 1e9:  # NaN or absurd
            raise ApplicationError(_("Enter a number."))
        return int(number) if float(number).is_integer() else number
    text = value if isinstance(value, str) else None
    if text is None or len(text) > 1000 or has_invalid_characters(text.replace("\n", "").replace("\r", "")):
        raise ApplicationError(_("Answer in 1000 printable characters at most."))
    return text.strip() or None


def answers_clean(questions: list[Question], raw: dict[str, Any]) -> dict[str, Any]:
    """Check the answers against the questions asked. Unasked questions' answers are dropped."""
    if not isinstance(raw, dict):
        raise ApplicationError(_("Answers must be an object."), field="answers")
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for question in questions:
        field = question_field(question)
        if question not in visible_questions(questions, cleaned):
            continue
        try:
            answer = _clean_answer(question, raw.get(field))
        except ApplicationError as error:
            errors[field] = [error.message]
            continue
        if answer is None:
            if question.required:
                errors[field] = [_("This question needs an answer.")]
            continue
        cleaned[field] = answer
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], fields=errors)
    return cleaned


@dataclass(frozen=True)
class Verdict:
    approve: bool
    reason: str


def knockout_verdict(questions: list[Question], answers: dict[str, Any]) -> Verdict | None:
    """The first rejecting rule that matches wins; then the first approving one."""
    matched: list[tuple[str, str]] = []
    for question in questions:
        answer = answers.get(question_field(question))
        if answer is None:
            continue
        for rule in question.rules.all():
            if _rule_matches(rule.operator, rule.value, answer):
                matched.append((rule.action, rule.reason))
    for action in (KnockoutAction.REJECT, KnockoutAction.APPROVE):
        for matched_action, reason in matched:
            if matched_action == action:
                return Verdict(approve=action == KnockoutAction.APPROVE, reason=reason)
    return None


def _rule_matches(operator: str, value: Any, answer: Any) -> bool:
    if operator == KnockoutOperator.ANY_OF:
        return _matches(answer, value if isinstance(value, list) else [value])
    if operator in (KnockoutOperator.AT_LEAST, KnockoutOperator.LESS_THAN):
        if isinstance(answer, bool) or not isinstance(answer, (int, float)) or isinstance(value, bool):
            return False
        if not isinstance(value, (int, float)):
            return False
        return answer >= value if operator == KnockoutOperator.AT_LEAST else answer < value
    if operator == KnockoutOperator.CONTAINS:
        return isinstance(answer, str) and isinstance(value, str) and value.casefold() in answer.casefold()
    return False


def criteria_verdict(group: Group, member: Member | None, city: str) -> Verdict | None:
    """Tier and region groups screen from member data: approve when it meets every criterion."""
    criteria = group.admission_criteria or {}
    if group.kind == GroupKind.TIER and member is not None and criteria:
        checks = []
        if "min_purchases" in criteria:
            checks.append(member.purchase_count >= criteria["min_purchases"])
        if criteria.get("annual_member"):
            checks.append(member.annual_member)
        if checks and all(checks):
            return Verdict(
                True,
                _("Meets the tier: %(count)d purchases%(annual)s.")
                % {
                    "count": member.purchase_count,
                    "annual": _(", annual member") if member.annual_member else "",
                },
            )
    if group.kind == GroupKind.REGION and criteria.get("cities"):
        place = (member.city if member and member.city else city) or ""
        if place in criteria["cities"]:
            return Verdict(True, _("Lives in %(city)s.") % {"city": place})
    return None


# --- Applications ---------------------------------------------------------------------------


def _questions(group: Group) -> list[Question]:
    return list(group.questions.prefetch_related("rules").order_by("position", "pk"))


def public_url(path: str) -> str:
    return f"{settings.CANOPY_PUBLIC_URL.rstrip('/')}{path}"


def _already_decided(application: Application) -> ApplicationError:
    application.refresh_from_db()
    who = application.decided_by.get_username() if application.decided_by else _("a rule")
    return ApplicationError(
        _("This application was already %(status)s by %(who)s.")
        % {"status": application.get_status_display().lower(), "who": who}
    )


@transaction.atomic
def application_submit(
    *,
    group: Group,
    display_name: str,
    phone: str = "",
    email: str = "",
    city: str = "",
    platform: str = "",
    external_user_id: str = "",
    answers: dict[str, Any] | None = None,
    ip_address: str | None = None,
    verified: bool = False,
    referred_by: Member | None = None,
) -> Application:
    """Take an application from the public form or a bot, and decide it at once when a
    knockout rule or the group's admission criteria say so.

    ``referred_by``: the member whose personal invitation link brought the applicant (裂变); a
    member of another community is ignored. On acceptance they become the membership's
    ``invited_by``.

    ``verified``: an authenticated integration vouches for the platform account, so the
    applicant is that account's member (and tier groups can screen on their purchases). On
    the public form nobody is anybody yet: typing a member's phone proves nothing."""
    group = Group.objects.select_related("community").get(pk=group.pk)
    if group.is_archived or group.is_hub:
        raise ApplicationError(_("This group does not take applications."))
    display_name = rules.clean_name(display_name)
    phone, email, city = rules.clean_phone(phone), rules.clean_email(email), rules.clean_city(city)
    platform, external_user_id = rules.clean_handle(platform, external_user_id)
    key = rules.contact_key(phone=phone, email=email, platform=platform, external_id=external_user_id)
    if not key:
        raise ApplicationError(
            _("Leave a phone number, an e-mail address or your account, so we can reach you."), field="phone"
        )
    questions = _questions(group)
    cleaned_answers = answers_clean(questions, answers or {})

    # Limits first, so probing contacts for pending applications costs as much as applying.
    if ip_address and not allow("apply-ip", ip_address, limit=settings.CANOPY_APPLY_LIMIT_PER_IP, window_seconds=3600):
        raise RateLimited(_("Too many applications from your network in the last hour. Please try again later."))
    if not allow("apply-contact", key, limit=settings.CANOPY_APPLY_LIMIT_PER_CONTACT, window_seconds=86400):
        raise RateLimited(_("Too many applications for this contact today. Please try again tomorrow."))
    if Application.objects.filter(group=group, contact_key=key, status=ApplicationStatus.PENDING).exists():
        raise ApplicationError(_("An application from this contact is already waiting; an admin will answer soon."))

    member = (
        member_by_handle(community=group.community, platform=platform, external_id=external_user_id)
        if verified
        else None
    )
    if member is not None and member.memberships.filter(group=group, status=MembershipStatus.ACTIVE).exists():
        raise ApplicationError(_("You are already a member of this group."))
    if referred_by is not None and referred_by.community_id != group.community_id:
        referred_by = None
    try:
        with transaction.atomic():
            application = Application.objects.create(
                community_id=group.community_id,
                group=group,
                member=member,
                display_name=display_name,
                phone=phone,
                email=email,
                city=city,
                platform=platform,
                external_user_id=external_user_id,
                answers=[
                    {"id": question.pk, "question": question.text, "answer": cleaned_answers[question_field(question)]}
                    for question in questions
                    if question_field(question) in cleaned_answers
                ],
                contact_key=key,
                ip_address=ip_address,
                status_token=secrets.token_urlsafe(24),
                referred_by=referred_by,
            )
    except IntegrityError:
        raise ApplicationError(
            _("An application from this contact is already waiting; an admin will answer soon.")
        ) from None

    verdict = knockout_verdict(questions, cleaned_answers) or criteria_verdict(group, member, city)
    if verdict is not None:
        if verdict.approve:
            application_approve(application=application, by=None, reason=verdict.reason)
        else:
            application_reject(application=application, by=None, reason=verdict.reason)
        application.refresh_from_db()
    return application


@transaction.atomic
def application_approve(*, application: Application, by, reason: str = "") -> Invitation:
    """Approve and invite. Two admins deciding at once: exactly one decision counts."""
    decided = Application.objects.filter(pk=application.pk, status=ApplicationStatus.PENDING).update(
        status=ApplicationStatus.APPROVED,
        decided_at=timezone.now(),
        decided_by=by,
        decided_automatically=by is None,
        decision_reason=rules.clean_long_text(reason, "reason", max_length=1000),
    )
    if decided != 1:
        raise _already_decided(application)
    application.refresh_from_db()
    return invitation_create(group=application.group, application=application, by=by)


@transaction.atomic
def application_reject(*, application: Application, by, reason: str) -> Application:
    reason = rules.clean_long_text(reason, "reason", max_length=1000)
    if not reason:
        raise ApplicationError(_("Say why, so the applicant understands."), field="reason")
    decided = Application.objects.filter(pk=application.pk, status=ApplicationStatus.PENDING).update(
        status=ApplicationStatus.REJECTED,
        decided_at=timezone.now(),
        decided_by=by,
        decided_automatically=by is None,
        decision_reason=reason,
    )
    if decided != 1:
        raise _already_decided(application)
    application.refresh_from_db()
    return application


def applications_bulk_approve(*, applications, by) -> tuple[int, list[str]]:
    """Approve each pending application; returns how many, and why the others were skipped."""
    approved, skipped = 0, []
    for application in applications:
        try:
            application_approve(application=application, by=by)
            approved += 1
        except ApplicationError as error:
            skipped.append(f"{application.display_name}: {error.message}")
    return approved, skipped


@transaction.atomic
def application_withdraw(*, status_token: str) -> Application:
    """The applicant takes back a pending application, from their status page."""
    application = Application.objects.filter(status_token=status_token).first()
    if application is None:
        raise ApplicationError(_("No such application."))
    withdrawn = Application.objects.filter(pk=application.pk, status=ApplicationStatus.PENDING).update(
        status=ApplicationStatus.WITHDRAWN,
        decided_at=timezone.now(),
        decision_reason=_("Withdrawn by the applicant."),
    )
    if withdrawn != 1:
        raise _already_decided(application)
    application.refresh_from_db()
    return application


# --- Invitations ----------------------------------------------------------------------------


@transaction.atomic
def invitation_create(
    *,
    group: Group,
    application: Application | None = None,
    member: Member | None = None,
    by=None,
    days: int | None = None,
    note: str = "",
) -> Invitation:
    """A single-use link into the group, valid ``days`` (7 by default): for an approved
    applicant, or for someone already in the community (``member``, e.g. into a suggested
    sub-group). When the person has an account we can reach, their integration is asked to
    send it; ``note`` goes before the link."""
    days = settings.CANOPY_INVITATION_DAYS if days is None else days
    if member is not None and member.community_id != group.community_id:
        raise ApplicationError(_("The member and the group belong to different communities."), field="member")
    invitation = Invitation.objects.create(
        community_id=group.community_id,
        group=group,
        application=application,
        member=member,
        token=secrets.token_urlsafe(24),
        created_by=by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    link = public_url(reverse("members:invitation", args=[invitation.token]))
    if application is not None and application.platform and application.external_user_id:
        with member_locale(group.community, application.member):  # not the reviewer's language
            body = _("Your application to “%(group)s” was approved. Join here (valid %(days)d days): %(link)s") % {
                "group": group.name,
                "days": days,
                "link": link,
            }
        message_enqueue(
            group=group,
            kind=MessageKind.INVITATION,
            body=body,
            recipient_platform=application.platform,
            recipient_external_id=application.external_user_id,
            recipient_name=application.display_name,
            dedupe_key=f"invitation:{invitation.pk}",
        )
    elif member is not None:
        handle = member.handles.filter(platform=group.platform).first() or member.handles.first()
        if handle is not None:
            with member_locale(group.community, member):
                body = _("You are invited to join “%(group)s”. Join here (valid %(days)d days): %(link)s") % {
                    "group": group.name,
                    "days": days,
                    "link": link,
                }
            message_enqueue(
                group=group,
                kind=MessageKind.INVITATION,
                body=f"{note}\n{body}" if note else body,
                recipient_platform=handle.platform,
                recipient_external_id=handle.external_id,
                recipient_name=member.display_name,
                dedupe_key=f"invitation:{invitation.pk}",
            )
    return invitation


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    invitation.refresh_from_db()
    return invitation


def welcome_text(group: Group, name: str, member: Member | None = None) -> str:
    """The group's welcome (or the default one in the member's language) for ``name``."""
    with member_locale(group.community, member):
        template = group.welcome_template or str(DEFAULT_WELCOME_TEMPLATE)
    return render_welcome(template, name=name, group=group.name, rules=group.rules)


@dataclass(frozen=True)
class Joined:
    membership: Membership
    welcome: OutboundMessage


@transaction.atomic
def invitation_accept(*, token: str, platform: str = "", external_user_id: str = "", verified: bool = False) -> Joined:
    """Use an invitation: the applicant becomes a member of the group (if it has a seat), and
    the welcome message is queued for the integration. Single use: a second call fails.

    ``verified``: an authenticated integration reports the join from this platform account,
    which identifies the member (and is added to them). Accepted on the public page, the
    applicant becomes a new member with the contact they gave."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("group", "application", "member")
        .filter(token=token)
        .first()
    )
    if invitation is None or (invitation.application is None and invitation.member is None):
        raise ApplicationError(_("This invitation link is not valid."), field="token")
    state = invitation.state
    if state == "accepted":
        raise ApplicationError(_("This invitation has already been used."), field="token")
    if state == "revoked":
        raise ApplicationError(_("This invitation was withdrawn by an admin."), field="token")
    if state == "expired":
        raise ApplicationError(_("This invitation has expired; ask an admin for a new one."), field="token")

    group, application = invitation.group, invitation.application
    platform, external_user_id = rules.clean_handle(platform, external_user_id) if verified else ("", "")
    member = (
        invitation.member
        or (application.member if application else None)
        or member_by_handle(community=group.community, platform=platform, external_id=external_user_id)
    )
    if member is None:
        member = member_create(
            community=group.community,
            display_name=application.display_name,
            phone=application.phone,
            email=application.email,
            city=application.city,
        )
    if platform:
        handle_add(member=member, platform=platform, external_id=external_user_id)
    if member.memberships.filter(group=group, status=MembershipStatus.ACTIVE).exists():
        raise ApplicationError(_("You are already a member of this group."), field="token")

    membership = membership_add(
        member=member,
        group=group,
        source=MembershipSource.APPLICATION if application else MembershipSource.INVITE,
        invited_by=application.referred_by if application and application.referred_by_id != member.pk else None,
    )
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), membership=membership)
    if application is not None and application.member_id is None:
        Application.objects.filter(pk=application.pk).update(member=member)
    if not platform and application is None:
        handle = member.handles.filter(platform=group.platform).first() or member.handles.first()
        platform, external_user_id = (handle.platform, handle.external_id) if handle else ("", "")
    welcome = message_enqueue(
        group=group,
        kind=MessageKind.WELCOME,
        body=welcome_text(group, member.display_name, member),
        recipient_platform=platform or (application.platform if application else "") or group.platform,
        recipient_external_id=external_user_id or (application.external_user_id if application else ""),
        recipient_name=member.display_name,
        dedupe_key=f"welcome:{membership.pk}",
    )
    return Joined(membership=membership, welcome=welcome)
