"""The lifecycle engine: each trigger on hand-built students, on the boundary days of the
community's own time zone (Asia/Shanghai, UTC+8), capacity, history, notices and reruns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from analytics.models import MemberDay
from lifecycle.models import LifecycleMove, MoveStatus, TriggerKind
from lifecycle.services.dates import member_date_set
from lifecycle.services.engine import lifecycle_run, rule_preview, rule_run
from members.models import Member, Membership, MembershipSource, MembershipStatus, Role
from members.services import people
from members.services.points import points_grant
from outbox.models import MessageKind, OutboundMessage
from subgroups.services import group_archive, group_update
from tests.lifecycle.conftest import in_group, local, make_rule, student

pytestmark = pytest.mark.django_db

EXAM = date(2026, 12, 20)


def moves(**filters):
    return LifecycleMove.objects.filter(**filters)


# --- Triggers ---------------------------------------------------------------------------------


def test_a_fixed_date_fires_on_its_local_day_not_the_utc_one(community, stages):
    rule = make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.FIXED_DATE, anchor_date=EXAM, offset_days=90
    )
    alice = student(stages["intensive"], joined=local(date(2026, 6, 1)))
    due = EXAM - timedelta(days=90)
    assert due == date(2026, 9, 21)

    assert lifecycle_run(community=community, now=local(date(2026, 9, 20), 23, 59))["rules"] == 1
    assert not moves().exists() and in_group(alice, stages["intensive"])

    # 00:01 in Shanghai is still the 20th in UTC: the community's day is what counts.
    first_minute = local(due, 0, 1)
    assert first_minute.utctimetuple().tm_mday == 20
    result = lifecycle_run(community=community, now=first_minute)
    assert result["moved"] == 1
    assert in_group(alice, stages["sprint"]) and not in_group(alice, stages["intensive"])
    move = moves().get()
    assert (move.rule, move.member, move.status) == (rule, alice, MoveStatus.MOVED)


def test_a_member_date_moves_each_member_by_their_own_date(community, stages):
    make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.MEMBER_DATE, date_label="exam", offset_days=90
    )
    soon = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="早考")
    later = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="晚考")
    undated = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="没填日期")
    member_date_set(member=soon, label="exam", date=EXAM)
    member_date_set(member=later, label="exam", date=date(2027, 6, 10))
    member_date_set(member=undated, label="birthday", date=date(2000, 1, 1))

    lifecycle_run(community=community, now=local(date(2026, 9, 20), 23, 59))
    assert not moves().exists()
    lifecycle_run(community=community, now=local(date(2026, 9, 21), 0, 0, 1))
    assert set(moves().values_list("member__display_name", flat=True)) == {"早考"}
    assert in_group(later, stages["intensive"]) and in_group(undated, stages["intensive"])
    lifecycle_run(community=community, now=local(date(2027, 3, 12), 9))  # 2027-06-10 − 90 days
    assert set(moves().values_list("member__display_name", flat=True)) == {"早考", "晚考"}


def test_days_in_group_count_local_days_from_the_day_of_joining(community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30)
    # 23:30 on 1 January in Shanghai is 15:30 UTC the same day; 00:30 on 2 January is 16:30 UTC on the 1st.
    late = student(stages["newcomer"], joined=local(date(2026, 1, 1), 23, 30), name="元旦晚上")
    early = student(stages["newcomer"], joined=local(date(2026, 1, 2), 0, 30), name="二号凌晨")

    lifecycle_run(community=community, now=local(date(2026, 1, 30), 23, 59))
    assert not moves().exists()
    lifecycle_run(community=community, now=local(date(2026, 1, 31), 0, 0, 30))
    assert set(moves().values_list("member", flat=True)) == {late.pk}
    lifecycle_run(community=community, now=local(date(2026, 2, 1), 0, 0, 30))
    assert set(moves().values_list("member", flat=True)) == {late.pk, early.pk}


def _checked_in(member, group, day, count=1):
    MemberDay.objects.create(
        community_id=member.community_id, member=member, group=group, day=day, check_ins=count, last_at=local(day)
    )


def test_check_ins_count_only_those_since_joining_the_group(community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.CHECK_INS, threshold=3)
    keen = student(stages["newcomer"], joined=local(date(2026, 3, 10), 22))
    _checked_in(keen, community.hub, date(2026, 3, 9), count=5)  # before joining: not progress here
    _checked_in(keen, stages["newcomer"], date(2026, 3, 10))
    _checked_in(keen, community.hub, date(2026, 3, 11))
    lifecycle_run(community=community, now=local(date(2026, 3, 12), 9))
    assert not moves().exists()
    _checked_in(keen, stages["newcomer"], date(2026, 3, 12))
    assert lifecycle_run(community=community, now=local(date(2026, 3, 12), 21))["moved"] == 1
    assert in_group(keen, stages["intensive"])


def test_points_count_what_was_earned_not_what_is_left(community, stages):
    make_rule(community, stages["sprint"], stages["alumni"], TriggerKind.POINTS, threshold=100)
    spender = student(stages["sprint"], joined=local(date(2026, 1, 1)), name="花光了")
    saver = student(stages["sprint"], joined=local(date(2026, 1, 1)), name="还差点")
    now = local(date(2026, 5, 1))
    points_grant(member=spender, amount=120, reason="check_in", at=now - timedelta(days=3))
    points_grant(member=spender, amount=-110, reason="shop", at=now - timedelta(days=2))
    points_grant(member=saver, amount=99, reason="check_in", at=now - timedelta(days=2))
    points_grant(member=saver, amount=50, reason="check_in", at=now + timedelta(days=1))  # not yet earned
    lifecycle_run(community=community, now=now)
    assert set(moves().values_list("member", flat=True)) == {spender.pk}


# --- Moving: capacity, history, notices --------------------------------------------------------


def test_a_full_target_records_a_failure_and_the_next_run_retries(community, stages):
    sprint = stages["sprint"]
    group_update(group=sprint, capacity=1)
    squatter = student(sprint, joined=local(date(2026, 1, 1)))
    rule = make_rule(community, stages["intensive"], sprint, TriggerKind.FIXED_DATE, anchor_date=EXAM, offset_days=90)
    waiting = student(stages["intensive"], joined=local(date(2026, 6, 1)))

    result = lifecycle_run(community=community, now=local(date(2026, 9, 22)))
    assert result["failed"] == 1 and result.get("moved", 0) == 0
    move = moves().get()
    assert move.status == MoveStatus.FAILED and "full" in move.reason and move.membership is None
    assert in_group(waiting, stages["intensive"]) and not OutboundMessage.objects.filter(kind=MessageKind.INVITATION)

    lifecycle_run(community=community, now=local(date(2026, 9, 23)))
    move.refresh_from_db()
    assert (move.status, move.attempts) == (MoveStatus.FAILED, 2)

    people.membership_end(membership=squatter.memberships.get(group=sprint))
    result = lifecycle_run(community=community, now=local(date(2026, 9, 24)))
    assert result["moved"] == 1
    move = moves().get()  # still one row: the failure became the move
    assert (move.rule, move.status, move.attempts, move.reason) == (rule, MoveStatus.MOVED, 3, "")
    assert move.first_tried_at == local(date(2026, 9, 22)) and move.at == local(date(2026, 9, 24))
    assert in_group(waiting, sprint)


def test_a_move_keeps_the_history_and_sets_the_stage(community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30)
    newbie = student(stages["newcomer"], joined=local(date(2026, 1, 1)), stage="newcomer")
    old = newbie.memberships.get(group=stages["newcomer"])
    lifecycle_run(community=community, now=local(date(2026, 2, 15)))

    old.refresh_from_db()
    assert old.status == MembershipStatus.LEFT and old.left_at is not None
    assert old.joined_at == local(date(2026, 1, 1))
    new = Membership.objects.get(member=newbie, group=stages["intensive"])
    assert new.source == MembershipSource.LIFECYCLE and new.is_active
    move = moves().get()
    assert (move.from_membership, move.membership, move.from_group, move.to_group) == (
        old,
        new,
        stages["newcomer"],
        stages["intensive"],
    )
    assert Member.objects.get(pk=newbie.pk).lifecycle_stage == "intensive"
    assert in_group(newbie, community.hub), "the hub is never left"
    stages["newcomer"].refresh_from_db()
    stages["intensive"].refresh_from_db()
    assert (stages["newcomer"].member_count, stages["intensive"].member_count) == (0, 1)


def test_keep_previous_leaves_the_member_in_both_groups_and_moves_them_once(community, stages):
    make_rule(
        community,
        stages["sprint"],
        stages["alumni"],
        TriggerKind.FIXED_DATE,
        anchor_date=EXAM,
        offset_days=-1,
        keep_previous=True,
    )
    taker = student(stages["sprint"], joined=local(date(2026, 9, 1)))
    lifecycle_run(community=community, now=local(date(2026, 12, 21)))
    assert in_group(taker, stages["sprint"]) and in_group(taker, stages["alumni"])
    for day in (22, 23):
        assert lifecycle_run(community=community, now=local(date(2026, 12, day))).get("moved", 0) == 0
    assert moves().count() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.INVITATION).count() == 1


def test_each_member_is_told_once_in_the_target_group(community, stages):
    make_rule(
        community,
        stages["intensive"],
        stages["sprint"],
        TriggerKind.MEMBER_DATE,
        date_label="exam",
        offset_days=90,
        notice_template="{name}：距离考试（{date}）还有三个月，欢迎从「{from_group}」来到「{to_group}」！",
    )
    told = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="林同学", platform_id="qq-10001")
    silent = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="无账号", platform_id=None)
    for member in (told, silent):
        member_date_set(member=member, label="exam", date=EXAM)
    for hour in (9, 10, 11):
        lifecycle_run(community=community, now=local(date(2026, 10, 1), hour))

    notice = OutboundMessage.objects.get(kind=MessageKind.INVITATION)
    assert notice.body == "林同学：距离考试（2026-12-20）还有三个月，欢迎从「强化复习群」来到「冲刺押题群」！"
    assert (notice.group, notice.recipient_platform, notice.recipient_external_id) == (
        stages["sprint"],
        stages["sprint"].platform,
        "qq-10001",
    )
    assert moves().get(member=told).notice == notice
    # No account to reach: moved all the same, with no notice, and the history says so.
    assert moves().get(member=silent).notice is None and in_group(silent, stages["sprint"])


def test_a_rerun_is_a_no_op(community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=7)
    for _ in range(3):
        student(stages["newcomer"], joined=local(date(2026, 4, 1)))
    now = local(date(2026, 4, 20))
    assert lifecycle_run(community=community, now=now)["moved"] == 3
    before = (Membership.objects.count(), OutboundMessage.objects.count(), LifecycleMove.objects.count())
    again = lifecycle_run(community=community, now=now + timedelta(hours=1))
    assert again.get("moved", 0) == 0 and again.get("failed", 0) == 0
    assert (Membership.objects.count(), OutboundMessage.objects.count(), LifecycleMove.objects.count()) == before


def test_a_member_who_returns_to_the_group_can_be_moved_again(community, stages):
    rule = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=7)
    again = student(stages["newcomer"], joined=local(date(2026, 4, 1)))
    lifecycle_run(community=community, now=local(date(2026, 4, 20)))
    back = people.membership_add(member=again, group=stages["newcomer"], source=MembershipSource.MANUAL)
    Membership.objects.filter(pk=back.pk).update(joined_at=local(date(2026, 5, 1)))
    people.membership_end(membership=again.memberships.get(group=stages["intensive"], status="active"))
    lifecycle_run(community=community, now=local(date(2026, 5, 20)))
    assert moves(rule=rule, member=again, status=MoveStatus.MOVED).count() == 2


def test_admins_and_guides_stay_where_they_are(community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=7)
    guide = student(stages["newcomer"], joined=local(date(2026, 4, 1)))
    people.role_grant(member=guide, group=stages["newcomer"], role=Role.GUIDE)
    plain = student(stages["newcomer"], joined=local(date(2026, 4, 1)))
    lifecycle_run(community=community, now=local(date(2026, 4, 20)))
    assert set(moves().values_list("member", flat=True)) == {plain.pk}
    assert in_group(guide, stages["newcomer"])


def test_one_run_moves_a_member_one_stage(community, stages):
    make_rule(
        community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30, name="a 入门"
    )
    make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.FIXED_DATE, anchor_date=EXAM, offset_days=90,
        name="b 冲刺",
    )  # fmt: skip
    hurried = student(stages["newcomer"], joined=local(date(2026, 8, 1)))
    lifecycle_run(community=community, now=local(date(2026, 10, 1)))
    assert in_group(hurried, stages["intensive"]) and not in_group(hurried, stages["sprint"])
    lifecycle_run(community=community, now=local(date(2026, 10, 2)))
    assert in_group(hurried, stages["sprint"])


def test_paused_rules_and_archived_targets_move_nobody(community, stages):
    paused = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    paused.is_active = False
    paused.save()
    archived = make_rule(community, stages["sprint"], stages["alumni"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    student(stages["newcomer"], joined=local(date(2026, 4, 1)))
    student(stages["sprint"], joined=local(date(2026, 4, 1)))
    group_archive(group=stages["alumni"])
    result = lifecycle_run(community=community, now=local(date(2026, 4, 20)))
    assert result["rules"] == 1 and result["rules_skipped"] == 1 and not moves().exists()
    assert rule_run(rule=archived, now=local(date(2026, 4, 20)))["rules_skipped"] == 1


# --- Dry run and preview -----------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_says_who_would_move(community, stages):
    group_update(group=stages["intensive"], capacity=2)
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=7)
    names = ["甲", "乙", "丙"]
    for name in names:
        student(stages["newcomer"], joined=local(date(2026, 4, 1)), name=name)
    counts = (Membership.objects.count(), OutboundMessage.objects.count(), LifecycleMove.objects.count())
    result = lifecycle_run(community=community, now=local(date(2026, 4, 20)), dry_run=True)
    assert (Membership.objects.count(), OutboundMessage.objects.count(), LifecycleMove.objects.count()) == counts
    assert [row["member_name"] for row in result["preview"]] == names
    assert [row["fits"] for row in result["preview"]] == [True, True, False]
    assert (result["would_move"], result["would_fail"], result["moved"]) == (2, 1, 0)


def test_the_preview_lists_who_moves_now_and_who_follows_when(community, stages):
    rule = make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.MEMBER_DATE, date_label="exam", offset_days=90
    )
    now = local(date(2026, 9, 1))
    due = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="到期")
    next_week = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="下周")
    far = student(stages["intensive"], joined=local(date(2026, 6, 1)), name="明年")
    member_date_set(member=due, label="exam", date=date(2026, 11, 30))
    member_date_set(member=next_week, label="exam", date=date(2026, 12, 7))
    member_date_set(member=far, label="exam", date=date(2027, 12, 7))
    preview = rule_preview(rule, now=now)
    assert [(row.member_name, row.due) for row in preview["due"]] == [("到期", date(2026, 9, 1))]
    assert [(row.member_name, row.due, row.date) for row in preview["upcoming"]] == [
        ("下周", date(2026, 9, 8), date(2026, 12, 7))
    ]
    assert (preview["due_count"], preview["upcoming_count"]) == (1, 1)
    assert not LifecycleMove.objects.exists()
