"""Exit questionnaires (退群问卷): when a member's last membership in the community ends, by a
leave event from the platform or by an admin's hand, they are asked once why they left."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from members.models import Membership, MembershipStatus, PlatformHandle
from outbox.models import MessageKind
from outbox.services import message_enqueue
from recall.models import ExitReason, ExitSurvey, OptOut
from recall.services.outcomes import active_members
from subgroups.locale import member_locale
from subgroups.models import Community

WINDOW = timedelta(days=30)  # leaves older than this are not asked about any more
MAX_TEXT = 2000


def survey_link(survey: ExitSurvey) -> str:
    return settings.CANOPY_PUBLIC_URL.rstrip("/") + reverse("recall_public:exit", args=[survey.token])


def surveys_open(*, community: Community, now: datetime) -> Counter:
    """One survey per member who left within the window and has no open membership now."""
    result: Counter = Counter()
    left = (
        Membership.objects.filter(
            group__community=community,
            status=MembershipStatus.LEFT,
            left_at__gt=now - WINDOW,
            left_at__lte=now,
        )
        .exclude(member_id__in=active_members(community, now).values("pk"))
        .exclude(Exists(OptOut.objects.filter(member_id=OuterRef("member_id"))))
        .exclude(Exists(ExitSurvey.objects.filter(member_id=OuterRef("member_id"), left_at__gt=now - WINDOW)))
        .select_related("member", "group")
        .order_by("member_id", "-left_at", "-pk")
    )
    seen = set()
    for membership in left:
        if membership.member_id in seen:
            continue
        seen.add(membership.member_id)
        if survey_send(membership=membership, now=now):
            result["exit_surveys"] += 1
    return result


def survey_send(*, membership: Membership, now: datetime | None = None) -> ExitSurvey | None:
    """Create the survey for this ended membership and message the member a link (a private
    message where they have an account on the group's platform). None if it already exists."""
    try:
        with transaction.atomic():
            survey = ExitSurvey.objects.create(
                community_id=membership.group.community_id,
                member=membership.member,
                membership=membership,
                group=membership.group,
                left_at=membership.left_at or now or timezone.now(),
                created_at=min(now or timezone.now(), timezone.now()),
            )
            handle = (
                PlatformHandle.objects.filter(member=membership.member, platform=membership.group.platform)
                .values_list("external_id", flat=True)
                .first()
            )
            if handle and membership.group.platform:
                with member_locale(membership.group.community, membership.member):
                    body = _(
                        "Sorry to see you go, %(name)s. Would you tell us why you left? It takes 20 seconds: %(link)s"
                    ) % {"name": membership.member.display_name, "link": survey_link(survey)}
                survey.message = message_enqueue(
                    group=membership.group,
                    kind=MessageKind.RECALL,
                    body=body,
                    recipient_platform=membership.group.platform,
                    recipient_external_id=handle,
                    recipient_name=membership.member.display_name,
                    dedupe_key=f"exit:{survey.pk}",
                )
                survey.save(update_fields=["message"])
            return survey
    except IntegrityError:
        return None


@transaction.atomic
def survey_answer(*, survey: ExitSurvey, reasons: list[str], other_text: str = "") -> ExitSurvey:
    reasons = list(dict.fromkeys(reasons or []))
    if any(reason not in ExitReason.values for reason in reasons):
        raise ApplicationError(_("Choose from the reasons listed."), field="reasons")
    text = (other_text or "").strip()
    if len(text) > MAX_TEXT:
        raise ApplicationError(_("Keep it to 2,000 characters."), field="other_text")
    if not reasons and not text:
        raise ApplicationError(_("Choose at least one reason, or tell us in your words."), field="reasons")
    if ExitReason.OTHER in reasons and not text:
        raise ApplicationError(_("Tell us a little about the other reason."), field="other_text")
    survey = ExitSurvey.objects.select_for_update().get(pk=survey.pk)
    survey.reasons, survey.other_text = reasons, text
    survey.answered_at = survey.answered_at or timezone.now()
    survey.save(update_fields=["reasons", "other_text", "answered_at"])
    return survey
