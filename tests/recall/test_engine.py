"""The recall engine, stage by stage, on members who went silent on a known day.

The default policy: day 30 an in-app "what you missed" with a coupon (then wait 7 days),
day 37 a private message with a 50-point bonus (then 23), day 60 a phone call (then 14)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from analytics.models import EventKind
from core.errors import ApplicationError
from members.models import PointsEntry
from members.services import people
from members.services.points import points_balance
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from outbox.services import message_ack
from recall.models import (
    AttemptStatus,
    Channel,
    Coupon,
    CycleStatus,
    ExitSurvey,
    Notice,
    RecallAttempt,
    RecallCycle,
    Variant,
)
from recall.services import dispatch, policies
from recall.services.engine import recall_run
from tests.recall.conftest import act, at_day, silent_member

pytestmark = pytest.mark.django_db


def run(community, now):
    """One beat: the engine, then the dispatcher, both at ``now``."""
    planned = recall_run(community=community, now=now)
    sent = dispatch.attempts_dispatch(community_id=community.pk, now=now)
    return planned, sent


def stages_reached(member) -> list[int]:
    return list(
        RecallAttempt.objects.filter(member=member)
        .order_by("stage__position")
        .values_list("stage__position", flat=True)
    )


@pytest.fixture
def codes(policy):
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="BACK-001\nBACK-002\nBACK-003")
    return pool


def test_stages_fire_on_their_day_and_not_a_day_before(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since, platform_id="wx-1", email="a@example.org")

    run(community, at_day(quiet_since, 29))
    assert stages_reached(member) == []

    run(community, at_day(quiet_since, 30))
    assert stages_reached(member) == [1]
    notice = Notice.objects.get(member=member)
    assert "BACK-001" in notice.body and member.display_name in notice.body
    first = RecallAttempt.objects.get(member=member)
    assert first.status == AttemptStatus.SENT and first.delivered_at is not None and first.channel == Channel.IN_APP

    run(community, at_day(quiet_since, 36))
    assert stages_reached(member) == [1], "37 days silent, and 7 days after the notice: not yet"

    run(community, at_day(quiet_since, 37))
    assert stages_reached(member) == [1, 2]
    message = OutboundMessage.objects.get(dedupe_key=f"recall:{RecallAttempt.objects.get(stage__position=2).pk}")
    assert message.kind == MessageKind.RECALL and message.recipient_external_id == "wx-1"
    assert message.group == design and "50" in message.body

    run(community, at_day(quiet_since, 59))
    assert stages_reached(member) == [1, 2]
    run(community, at_day(quiet_since, 60))
    assert stages_reached(member) == [1, 2, 3]
    call = RecallAttempt.objects.get(member=member, stage__position=3)
    assert call.channel == Channel.PHONE and call.status == AttemptStatus.SENT and "free month" in call.body

    cycle = RecallCycle.objects.get(member=member)
    assert cycle.status == CycleStatus.OPEN and cycle.last_position == 3
    run(community, at_day(quiet_since, 73))
    assert RecallCycle.objects.get(pk=cycle.pk).status == CycleStatus.OPEN
    run(community, at_day(quiet_since, 74))
    assert RecallCycle.objects.get(pk=cycle.pk).status == CycleStatus.EXHAUSTED
    run(community, at_day(quiet_since, 120))
    assert stages_reached(member) == [1, 2, 3], "a silence reaches a member once per stage"


def test_running_again_plans_nothing_new(community, design, policy, codes, quiet_since):
    members = [silent_member(design, quiet_since) for _ in range(3)]
    now = at_day(quiet_since, 30)
    first, _sent = run(community, now)
    again, _sent = run(community, now + timedelta(minutes=15))
    assert first["planned"] == 3 and again.get("planned", 0) == 0
    assert RecallAttempt.objects.filter(member__in=members).count() == 3
    assert Notice.objects.filter(member__in=members).count() == 3


def test_a_member_who_comes_back_is_recovered_and_outreach_stops(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since, platform_id="wx-2")
    run(community, at_day(quiet_since, 30))
    run(community, at_day(quiet_since, 37))
    pm = RecallAttempt.objects.get(member=member, stage__position=2)

    back = at_day(quiet_since, 40, hour=9)
    act(member, design, back, kind=EventKind.CHECK_IN)
    result, _sent = run(community, at_day(quiet_since, 40, hour=12))

    assert result["cycles_recovered"] == 1 and result["recovered"] == 1
    pm.refresh_from_db()
    assert pm.recovered_at == back, "the return is credited to the last message before it"
    assert RecallAttempt.objects.get(member=member, stage__position=1).recovered_at is None
    assert RecallCycle.objects.get(member=member).status == CycleStatus.RECOVERED
    # The welcome-back bonus, once, however often the engine runs.
    run(community, at_day(quiet_since, 41))
    assert points_balance(member=member) == 50
    assert PointsEntry.objects.filter(member=member).count() == 1
    run(community, at_day(quiet_since, 60))
    assert stages_reached(member) == [1, 2]


def test_a_return_after_the_recovery_window_stops_outreach_but_is_not_credited(
    community, design, policy, codes, quiet_since
):
    member = silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    act(member, design, at_day(quiet_since, 45))  # 15 days after the notice
    run(community, at_day(quiet_since, 46))
    assert RecallCycle.objects.get(member=member).status == CycleStatus.RECOVERED
    assert RecallAttempt.objects.get(member=member).recovered_at is None


def test_an_open_or_click_event_marks_the_message_opened_and_answered(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    act(member, design, at_day(quiet_since, 31), kind=EventKind.OPEN)
    run(community, at_day(quiet_since, 31, hour=12))
    attempt = RecallAttempt.objects.get(member=member)
    assert attempt.opened_at == at_day(quiet_since, 31) and attempt.responded_at is None
    act(member, design, at_day(quiet_since, 32), kind=EventKind.CLICK)
    run(community, at_day(quiet_since, 32, hour=12))
    attempt.refresh_from_db()
    assert attempt.opened_at == at_day(quiet_since, 31) and attempt.responded_at == at_day(quiet_since, 32)
    assert RecallCycle.objects.get(member=member).status == CycleStatus.OPEN, "opening is not coming back"


def test_opens_are_filled_for_many_members_at_once_and_an_earlier_visit_keeps_its_time(
    community, design, policy, codes, quiet_since
):
    first, second, visited = (silent_member(design, quiet_since) for _ in range(3))
    run(community, at_day(quiet_since, 30))
    # The third opened the message's page before its open event arrived: the page's time stays.
    RecallAttempt.objects.filter(member=visited).update(opened_at=at_day(quiet_since, 30, hour=18))
    for member in (first, second, visited):
        act(member, design, at_day(quiet_since, 31), kind=EventKind.OPEN)
    act(second, design, at_day(quiet_since, 31, hour=11), kind=EventKind.CLICK)
    run(community, at_day(quiet_since, 31, hour=12))
    opened = dict(RecallAttempt.objects.values_list("member_id", "opened_at"))
    responded = dict(RecallAttempt.objects.values_list("member_id", "responded_at"))
    assert opened == {
        first.pk: at_day(quiet_since, 31),
        second.pk: at_day(quiet_since, 31),
        visited.pk: at_day(quiet_since, 30, hour=18),
    }
    assert responded == {first.pk: None, second.pk: at_day(quiet_since, 31, hour=11), visited.pk: None}


def test_opting_out_stops_outreach_and_cancels_what_was_planned(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since)
    late = at_day(quiet_since, 30, hour=23)  # quiet hours: planned now, sent at 08:00
    recall_run(community=community, now=late)
    attempt = RecallAttempt.objects.get(member=member)
    assert attempt.status == AttemptStatus.SCHEDULED

    policies.opt_out(member=member, source="inbox")
    dispatch.attempts_dispatch(community_id=community.pk, now=at_day(quiet_since, 31, hour=8))
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.CANCELLED and not Notice.objects.filter(member=member).exists()
    run(community, at_day(quiet_since, 31, hour=9))
    assert RecallCycle.objects.get(member=member).status == CycleStatus.OPTED_OUT
    run(community, at_day(quiet_since, 61))
    assert stages_reached(member) == [1]

    # Opting back in counts from the next silence: this one's cycle ended.
    policies.opt_in(member=member)
    run(community, at_day(quiet_since, 62))
    assert RecallAttempt.objects.filter(member=member).count() == 1
    act(member, design, at_day(quiet_since, 63))
    run(community, at_day(quiet_since, 63 + 30))
    assert RecallAttempt.objects.filter(member=member).count() == 2
    assert RecallCycle.objects.filter(member=member).count() == 2


def test_quiet_hours_hold_messages_until_they_end(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since)
    late = at_day(quiet_since, 30, hour=23)
    recall_run(community=community, now=late)
    attempt = RecallAttempt.objects.get(member=member)
    assert attempt.send_after == at_day(quiet_since, 31, hour=8)

    dispatch.attempts_dispatch(community_id=community.pk, now=at_day(quiet_since, 31, hour=7))
    assert RecallAttempt.objects.get(pk=attempt.pk).status == AttemptStatus.SCHEDULED
    dispatch.attempts_dispatch(community_id=community.pk, now=at_day(quiet_since, 31, hour=8))
    assert RecallAttempt.objects.get(pk=attempt.pk).status == AttemptStatus.SENT


def test_quiet_hours_within_one_day(community, design, policy, codes, quiet_since):
    policy.quiet_start, policy.quiet_end = time(12, 0), time(14, 0)
    policy.save()
    silent_member(design, quiet_since)
    recall_run(community=community, now=at_day(quiet_since, 30, hour=13))
    assert RecallAttempt.objects.get().send_after == at_day(quiet_since, 30, hour=14)


def test_the_monthly_cap_counts_every_policy(community, design, policy, codes, quiet_since):
    policy.monthly_cap = 1
    policy.save()
    second = policies.policy_save(community=community, name="另一条", monthly_cap=1, quiet_start=None, quiet_end=None)
    policies.stage_save(policy=second, name="提醒", days_silent=30, channel=Channel.IN_APP, template="{name} 回来看看")
    member = silent_member(design, quiet_since)

    result, _sent = run(community, at_day(quiet_since, 30))
    assert result["planned"] == 1 and result["capped"] == 1
    assert RecallAttempt.objects.filter(member=member).count() == 1
    # A month on, the first message no longer counts.
    run(community, at_day(quiet_since, 61))
    assert RecallAttempt.objects.filter(member=member).count() == 2


def test_a_coupon_is_never_handed_out_twice(community, design, policy, quiet_since):
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="ONLY-1, ONLY-2")
    members = [silent_member(design, quiet_since) for _ in range(3)]
    run(community, at_day(quiet_since, 30))
    given = list(Coupon.objects.filter(pool=pool).values_list("code", "attempt__member_id"))
    assert sorted(code for code, _m in given) == ["ONLY-1", "ONLY-2"]
    assert len({member for _c, member in given}) == 2
    empty = RecallAttempt.objects.get(member__in=members, coupon__isnull=True)
    assert empty.gift_note == "coupon pool empty" and empty.gift_value == 0
    # Codes added later go to later attempts, not to the ones that missed out.
    policies.coupons_add(pool=pool, text="ONLY-1\nONLY-3")
    run(community, at_day(quiet_since, 30, hour=12))
    assert Coupon.objects.filter(pool=pool, attempt__isnull=True).count() == 1


def test_segment_filters_skip_a_stage_but_not_the_rest(community, design, policy, codes, quiet_since):
    from analytics.models import MemberMetric

    stage = policy.stages.get(position=2)
    stage.segments = ["high_value"]
    stage.save()
    member = silent_member(design, quiet_since, platform_id="wx-3")
    MemberMetric.objects.create(
        member=member, community=community, day=quiet_since.date(), state="silent", segment="lost"
    )
    run(community, at_day(quiet_since, 30))
    run(community, at_day(quiet_since, 37))
    assert stages_reached(member) == [1]
    run(community, at_day(quiet_since, 60))
    assert stages_reached(member) == [1, 3]


def test_variant_b_goes_to_about_half(community, design, policy, codes, quiet_since):
    for _ in range(40):
        silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    variants = list(RecallAttempt.objects.values_list("variant", flat=True))
    assert 10 <= variants.count(Variant.B) <= 30
    b = RecallAttempt.objects.filter(variant=Variant.B).first()
    assert "has news for you" in b.body


def test_a_delivered_private_message_counts_as_delivered(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since, platform_id="wx-4")
    run(community, at_day(quiet_since, 30))
    run(community, at_day(quiet_since, 37))
    attempt = RecallAttempt.objects.get(member=member, stage__position=2)
    assert attempt.delivered_at is None
    message_ack(message=attempt.message)
    run(community, at_day(quiet_since, 38))
    attempt.refresh_from_db()
    assert attempt.delivered_at == OutboundMessage.objects.get(pk=attempt.message_id).delivered_at


def test_without_a_platform_account_the_private_message_fails_visibly(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    run(community, at_day(quiet_since, 37))
    attempt = RecallAttempt.objects.get(member=member, stage__position=2)
    assert attempt.status == AttemptStatus.FAILED and "platform account" in attempt.last_error
    assert not OutboundMessage.objects.filter(dedupe_key=f"recall:{attempt.pk}").exists()


def test_email_goes_through_djangos_backend_once(community, design, policy, quiet_since, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    stage = policy.stages.get(position=1)
    stage.channel, stage.gift_kind, stage.coupon_pool = Channel.EMAIL, "", None
    stage.save()
    with_email = silent_member(design, quiet_since, email="lin@example.org")
    without = silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    [email] = mail.outbox
    assert email.to == ["lin@example.org"] and email.extra_headers["Message-ID"].startswith("<recall-")
    assert RecallAttempt.objects.get(member=with_email).status == AttemptStatus.SENT
    assert RecallAttempt.objects.get(member=without).status == AttemptStatus.FAILED
    run(community, at_day(quiet_since, 30, hour=11))
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_is_retried_with_backoff(community, design, policy, quiet_since, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    stage = policy.stages.get(position=1)
    stage.channel, stage.gift_kind, stage.coupon_pool = Channel.EMAIL, "", None
    stage.save()
    member = silent_member(design, quiet_since, email="lin@example.org")
    run(community, at_day(quiet_since, 30))
    attempt = RecallAttempt.objects.get(member=member)
    assert attempt.status == AttemptStatus.SCHEDULED and attempt.tries == 1 and attempt.last_error
    assert attempt.send_after > attempt.scheduled_at


def test_a_member_who_left_is_not_recalled_and_gets_an_exit_survey(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since, platform_id="wx-5")
    run(community, at_day(quiet_since, 30))
    membership = member.memberships.get()
    people.membership_end(membership=membership)
    _result, _sent = run(community, timezone.now() + timedelta(minutes=5))

    assert RecallCycle.objects.get(member=member).status == CycleStatus.LEFT
    survey = ExitSurvey.objects.get(member=member)
    assert survey.membership == membership and survey.group == design
    message = OutboundMessage.objects.get(dedupe_key=f"exit:{survey.pk}")
    assert message.recipient_external_id == "wx-5" and survey.token in message.body
    assert message.status == MessageStatus.PENDING
    again, _sent = run(community, timezone.now() + timedelta(minutes=20))
    assert ExitSurvey.objects.filter(member=member).count() == 1 and again.get("exit_surveys", 0) == 0


def test_a_member_still_in_another_group_gets_no_exit_survey(community, design, coders, policy, quiet_since):
    member = silent_member(design, quiet_since)
    people.membership_add(member=member, group=coders, source="manual")
    people.membership_end(membership=member.memberships.get(group=design))
    run(community, timezone.now() + timedelta(minutes=5))
    assert not ExitSurvey.objects.filter(member=member).exists()


def test_templates_are_checked_when_a_stage_is_saved(policy):
    with pytest.raises(ApplicationError) as error:
        policies.stage_save(policy=policy, name="x", days_silent=90, channel=Channel.IN_APP, template="Hi {nmae}")
    assert error.value.field == "template" and "{nmae}" in error.value.message
    with pytest.raises(ApplicationError) as error:
        policies.stage_save(policy=policy, name="x", days_silent=90, channel=Channel.IN_APP, template="Hi {name")
    assert error.value.field == "template"
    with pytest.raises(ApplicationError) as error:
        policies.stage_save(policy=policy, name="x", days_silent=10, channel=Channel.IN_APP, template="Hi")
    assert error.value.field == "days_silent", "a fourth stage cannot fire before the third"
    with pytest.raises(ApplicationError) as error:
        policies.stage_save(
            policy=policy, name="x", days_silent=90, channel=Channel.IN_APP, template="Hi", gift_kind="coupon"
        )
    assert error.value.field == "coupon_pool"
    stage = policies.stage_save(policy=policy, name="最后", days_silent=90, channel=Channel.IN_APP, template="{name}")
    assert stage.position == 4


def test_a_stage_that_reached_members_cannot_be_deleted(community, design, policy, codes, quiet_since):
    silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    with pytest.raises(ApplicationError):
        policies.stage_delete(stage=policy.stages.get(position=1))
    policies.stage_delete(stage=policy.stages.get(position=3))
    assert policy.stages.count() == 2


def test_a_community_with_recall_history_can_be_deleted(community, design, policy, codes, quiet_since):
    silent_member(design, quiet_since)
    run(community, at_day(quiet_since, 30))
    community.delete()
    assert not RecallAttempt.objects.exists() and not Coupon.objects.exists()


def test_an_exhausted_silence_is_not_planned_again(community, design, policy, codes, quiet_since):
    member = silent_member(design, quiet_since)
    for day in (30, 37, 60, 74):
        run(community, at_day(quiet_since, day))
    assert RecallCycle.objects.get(member=member).status == CycleStatus.EXHAUSTED
    result, _sent = run(community, at_day(quiet_since, 80))
    assert result.get("cycles_started", 0) == 0 and result.get("planned", 0) == 0
    assert Coupon.objects.filter(attempt__isnull=False).count() == 1


def test_admins_are_not_recalled(community, design, policy, codes, quiet_since):
    from members.models import Role

    admin = silent_member(design, quiet_since)
    people.role_grant(member=admin, group=design, role=Role.ADMIN)
    run(community, at_day(quiet_since, 30))
    assert not RecallAttempt.objects.filter(member=admin).exists()
