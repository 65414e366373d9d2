"""Sending planned attempts down their channels.

In-app notices, private messages (rows in the outbox) and phone tasks are writes to this
database: each batch is claimed with ``FOR UPDATE SKIP LOCKED`` and sent in the same
transaction that marks it sent, so an attempt is sent exactly once whether a worker dies
mid-batch (the transaction rolls back and the next sweep sends it) or two workers run at once
(they lock different rows). The outbox then delivers private messages by webhook or polling:
the tasks start a webhook sweep once a dispatch has queued any.

E-mail leaves the building, so it is claimed with a lease first and marked sent after the mail
server accepts it. A worker killed in between leaves the lease to run out; the e-mail is then
sent again with the same Message-ID, which mail systems use to drop the copy.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from members.models import Membership, MembershipStatus, PlatformHandle
from outbox.models import MessageKind, OutboundMessage
from recall.models import AttemptStatus, Channel, CycleStatus, Notice, OptOut, RecallAttempt, RecallCycle
from subgroups.models import Group

logger = logging.getLogger(__name__)

BATCH = 500
EMAIL_LEASE = timedelta(minutes=5)
EMAIL_TRIES = 5


def attempts_dispatch(*, community_id: int | None = None, now: datetime | None = None, batch: int = BATCH) -> Counter:
    """Send every due attempt; returns counts by outcome."""
    result: Counter = Counter()
    emails: list[int] = []
    while True:
        step, claimed_emails, claimed = _dispatch_batch(community_id, now or timezone.now(), batch)
        result.update(step)
        emails += claimed_emails
        if claimed < batch:
            break
    if emails:
        result.update(emails_send(attempt_ids=emails))
    return result


@transaction.atomic
def _dispatch_batch(community_id: int | None, now: datetime, batch: int) -> tuple[Counter, list[int], int]:
    result: Counter = Counter()
    due = RecallAttempt.objects.select_for_update(skip_locked=True).filter(
        Q(status=AttemptStatus.SCHEDULED) | Q(status=AttemptStatus.SENDING), send_after__lte=now
    )
    if community_id is not None:
        due = due.filter(community_id=community_id)
    attempts = list(due.order_by("send_after", "pk")[:batch])
    if not attempts:
        return result, [], 0
    stopped = set(
        RecallCycle.objects.filter(pk__in={a.cycle_id for a in attempts})
        .exclude(status=CycleStatus.OPEN)
        .values_list("pk", flat=True)
    )
    opted = set(
        OptOut.objects.filter(member_id__in={a.member_id for a in attempts}).values_list("member_id", flat=True)
    )
    send, cancel = [], []
    for attempt in attempts:
        (cancel if attempt.cycle_id in stopped or attempt.member_id in opted else send).append(attempt)
    if cancel:
        RecallAttempt.objects.filter(pk__in=[a.pk for a in cancel]).update(
            status=AttemptStatus.CANCELLED, last_error="stopped before sending"
        )
        result["cancelled"] += len(cancel)
    by_channel: dict[str, list[RecallAttempt]] = {}
    for attempt in send:
        by_channel.setdefault(attempt.channel, []).append(attempt)
    sent_now = timezone.now()
    stamp = min(now, sent_now)  # a replay's "now" lies in the past

    notices = by_channel.get(Channel.IN_APP, [])
    if notices:
        Notice.objects.bulk_create(
            [
                Notice(
                    community_id=a.community_id,
                    member_id=a.member_id,
                    attempt=a,
                    title=_notice_title(a),
                    body=a.body,
                    created_at=stamp,
                )
                for a in notices
            ]
        )
        RecallAttempt.objects.filter(pk__in=[a.pk for a in notices]).update(
            status=AttemptStatus.SENT, sent_at=stamp, delivered_at=stamp
        )
        result["sent_in_app"] += len(notices)

    calls = by_channel.get(Channel.PHONE, [])
    if calls:
        RecallAttempt.objects.filter(pk__in=[a.pk for a in calls]).update(status=AttemptStatus.SENT, sent_at=stamp)
        result["sent_phone"] += len(calls)

    result.update(_platform(by_channel.get(Channel.PLATFORM, []), stamp))

    emails = by_channel.get(Channel.EMAIL, [])
    claimed_emails = []
    if emails:
        addresses = dict(RecallAttempt.objects.filter(pk__in=[a.pk for a in emails]).values_list("pk", "member__email"))
        missing = [a.pk for a in emails if not addresses.get(a.pk)]
        if missing:
            RecallAttempt.objects.filter(pk__in=missing).update(
                status=AttemptStatus.FAILED, last_error="no e-mail address"
            )
            result["failed"] += len(missing)
        claimed_emails = [a.pk for a in emails if addresses.get(a.pk)]
        RecallAttempt.objects.filter(pk__in=claimed_emails).update(
            status=AttemptStatus.SENDING, tries=F("tries") + 1, send_after=sent_now + EMAIL_LEASE
        )
    return result, claimed_emails, len(attempts)


def _notice_title(attempt: RecallAttempt) -> str:
    return attempt.body.splitlines()[0][:200] if attempt.body else "—"


def _platform(attempts: list[RecallAttempt], stamp: datetime) -> Counter:
    """Queue private messages: in the member's home group if they have an account on its
    platform, else in another open group of theirs where they have one."""
    result: Counter = Counter()
    if not attempts:
        return result
    member_ids = {a.member_id for a in attempts}
    handles: dict[int, dict[str, str]] = {}
    for member_id, platform, external_id in PlatformHandle.objects.filter(member_id__in=member_ids).values_list(
        "member_id", "platform", "external_id"
    ):
        handles.setdefault(member_id, {})[platform] = external_id
    groups: dict[int, list[Group]] = {}
    for membership in (
        Membership.objects.filter(member_id__in=member_ids, status=MembershipStatus.ACTIVE)
        .exclude(group__platform="")
        .select_related("group")
        .order_by("-joined_at", "-pk")
    ):
        groups.setdefault(membership.member_id, []).append(membership.group)
    names = dict(
        RecallAttempt.objects.filter(pk__in=[a.pk for a in attempts]).values_list("pk", "member__display_name")
    )
    messages, queued, unreachable = [], [], []
    for attempt in attempts:
        own = handles.get(attempt.member_id, {})
        options = sorted(
            (g for g in groups.get(attempt.member_id, []) if g.platform in own),
            key=lambda g: g.pk != attempt.group_id,  # the home group first
        )
        if not options:
            unreachable.append(attempt.pk)
            continue
        group = options[0]
        messages.append(
            OutboundMessage(
                community_id=attempt.community_id,
                group=group,
                kind=MessageKind.RECALL,
                recipient_platform=group.platform,
                recipient_external_id=own[group.platform],
                recipient_name=names.get(attempt.pk, "")[:100],
                body=attempt.body,
                dedupe_key=f"recall:{attempt.pk}",
                available_at=stamp,
            )
        )
        queued.append(attempt)
    if unreachable:
        RecallAttempt.objects.filter(pk__in=unreachable).update(
            status=AttemptStatus.FAILED, last_error="no platform account in an open group"
        )
        result["failed"] += len(unreachable)
    if messages:
        OutboundMessage.objects.bulk_create(messages)
        keys = {m.dedupe_key: m for m in messages}
        if any(m.pk is None for m in messages):  # a backend that does not return ids
            keys = {m.dedupe_key: m for m in OutboundMessage.objects.filter(dedupe_key__in=list(keys))}
        for attempt in queued:
            message = keys[f"recall:{attempt.pk}"]
            attempt.message_id, attempt.group_id = message.pk, message.group_id
        RecallAttempt.objects.filter(pk__in=[a.pk for a in queued]).update(status=AttemptStatus.SENT, sent_at=stamp)
        RecallAttempt.objects.bulk_update(queued, ["message", "group"], batch_size=500)
        result["sent_platform"] += len(queued)
    return result


def emails_send(*, attempt_ids: list[int]) -> Counter:
    """Send claimed e-mails over one connection; settle each as sent or to be retried."""
    result: Counter = Counter()
    attempts = list(
        RecallAttempt.objects.filter(pk__in=attempt_ids, status=AttemptStatus.SENDING).select_related(
            "member", "community"
        )
    )
    if not attempts:
        return result
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except OSError as failure:
        for attempt in attempts:
            result[_email_settle(attempt, ok=False, error=str(failure))] += 1
        return result
    try:
        for attempt in attempts:
            email = EmailMessage(
                subject=_notice_title(attempt),
                body=attempt.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[attempt.member.email],
                headers={"Message-ID": f"<recall-{attempt.pk}@{settings.CANOPY_EMAIL_DOMAIN}>"},
                connection=connection,
            )
            try:
                email.send()
                result[_email_settle(attempt, ok=True)] += 1
            except Exception as failure:  # noqa: BLE001 - any SMTP failure is a retry
                result[_email_settle(attempt, ok=False, error=f"{failure.__class__.__name__}: {failure}")] += 1
    finally:
        connection.close()
    return result


def _email_settle(attempt: RecallAttempt, *, ok: bool, error: str = "") -> str:
    mine = RecallAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.SENDING, tries=attempt.tries)
    now = timezone.now()
    if ok:
        mine.update(status=AttemptStatus.SENT, sent_at=now, delivered_at=now, last_error="")
        return "sent_email"
    if attempt.tries >= EMAIL_TRIES:
        mine.update(status=AttemptStatus.FAILED, last_error=error[:500])
        return "failed"
    wait = timedelta(seconds=min(60 * 2 ** (attempt.tries - 1), 6 * 3600))
    mine.update(status=AttemptStatus.SCHEDULED, send_after=now + wait, last_error=error[:500])
    return "email_retry"
