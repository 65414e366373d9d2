"""Saving rules: what a rule may connect, each trigger's parameters, and the notice's
placeholders, all refused with a message next to the field. Member dates and their import."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import ApplicationError
from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, TriggerKind
from lifecycle.services.dates import member_date_set, member_dates_import
from lifecycle.services.engine import lifecycle_run
from lifecycle.services.rules import notice_check, notice_render, rule_delete, rule_save, rule_set_active
from members.models import Member
from subgroups.services import group_archive
from tests.lifecycle.conftest import local, make_rule, student

pytestmark = pytest.mark.django_db


def refused(field: str, **values):
    with pytest.raises(ApplicationError) as error:
        rule_save(**values)
    assert error.value.field == field, error.value.message
    return error.value.message


@pytest.fixture
def base(community, stages):
    return {
        "community": community,
        "name": "入门满30天",
        "from_group": stages["newcomer"],
        "to_group": stages["intensive"],
        "trigger": TriggerKind.DAYS_IN_GROUP,
        "threshold": 30,
    }


def test_a_sound_rule_is_saved_with_only_its_own_parameters(base, owner):
    rule = rule_save(**base, anchor_date=date(2026, 12, 20), offset_days=5, date_label="exam", by=owner)
    assert (rule.threshold, rule.anchor_date, rule.offset_days, rule.date_label) == (30, None, 0, "")
    assert rule.created_by == owner and rule.is_active and not rule.keep_previous
    assert "{name}" in rule.notice_template, "an empty notice is saved as the default one"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{name} → {nme}", "Unknown placeholder {nme}"),
        ("欢迎 {name", "brace is not closed"),
        ("{name!r} 来了", "plainly"),
        ("{to_group:>30}", "plainly"),
        ("{0} 同学", "Unknown placeholder {0}"),
        ("{name.__class__}", "Unknown placeholder"),
        ("长" * 2001, "2,000"),
    ],
)
def test_a_bad_notice_is_refused(base, template, expected):
    assert expected in refused("notice_template", **base, notice_template=template)
    assert not LifecycleRule.objects.exists()


def test_a_good_notice_renders_every_placeholder_and_literal_braces():
    text = notice_check("{{通知}} {name}: {from_group} → {to_group} @ {date}")
    assert notice_render(text, {"name": "林", "from_group": "A", "to_group": "B", "date": "2026-12-20"}) == (
        "{通知} 林: A → B @ 2026-12-20"
    )


def test_what_a_rule_may_connect(base, community, stages, other_community, design):
    assert "different" in refused("to_group", **{**base, "to_group": stages["newcomer"]})
    assert "hub" in refused("to_group", **{**base, "to_group": community.hub})
    assert refused("from_group", **{**base, "from_group": other_community.hub})
    assert refused("from_group", **{**base, "from_group": None})
    group_archive(group=stages["alumni"])
    assert "archived" in refused("to_group", **{**base, "to_group": stages["alumni"]})
    assert refused("keep_previous", **{**base, "from_group": community.hub})
    rule = rule_save(**{**base, "from_group": community.hub, "keep_previous": True})
    assert rule.from_group == community.hub
    # Lifecycle groups normally, but any open sub-group will do.
    assert rule_save(**{**base, "name": "兴趣", "to_group": design}).to_group == design


@pytest.mark.parametrize(
    ("trigger", "values", "field"),
    [
        (TriggerKind.FIXED_DATE, {}, "anchor_date"),
        (TriggerKind.FIXED_DATE, {"anchor_date": "2026-12-20"}, "anchor_date"),
        (TriggerKind.FIXED_DATE, {"anchor_date": date(2026, 12, 20), "offset_days": 99999}, "offset_days"),
        (TriggerKind.FIXED_DATE, {"anchor_date": date(2026, 12, 20), "offset_days": "ninety"}, "offset_days"),
        (TriggerKind.MEMBER_DATE, {}, "date_label"),
        (TriggerKind.MEMBER_DATE, {"date_label": "exam date!"}, "date_label"),
        (TriggerKind.DAYS_IN_GROUP, {"threshold": None}, "threshold"),
        (TriggerKind.CHECK_INS, {"threshold": 0}, "threshold"),
        (TriggerKind.POINTS, {"threshold": "1.5"}, "threshold"),
        ("birthday", {}, "trigger"),
    ],
)
def test_each_trigger_needs_its_parameters(base, trigger, values, field):
    refused(field, **{**base, "trigger": trigger, **values})


def test_names_are_unique_in_a_community(base):
    rule_save(**base)
    assert "already" in refused("name", **base)
    assert refused("name", **{**base, "name": "   "})


def test_a_rule_with_history_is_paused_not_deleted(community, stages, base):
    rule = rule_save(**base)
    student(stages["newcomer"], joined=local(date(2026, 1, 1)))
    lifecycle_run(community=community, now=local(date(2026, 3, 1)))
    with pytest.raises(ApplicationError):
        rule_delete(rule=rule)
    assert LifecycleMove.objects.filter(rule=rule).count() == 1
    rule_set_active(rule=rule, is_active=False)
    assert not LifecycleRule.objects.get(pk=rule.pk).is_active
    unused = make_rule(community, stages["sprint"], stages["alumni"], TriggerKind.POINTS, threshold=5)
    rule_delete(rule=unused)
    assert not LifecycleRule.objects.filter(pk=unused.pk).exists()


def test_a_paused_rule_whose_group_was_archived_cannot_resume(community, stages, base):
    rule = rule_save(**base)
    rule_set_active(rule=rule, is_active=False)
    group_archive(group=stages["intensive"])
    rule.refresh_from_db()
    with pytest.raises(ApplicationError) as error:
        rule_set_active(rule=rule, is_active=True)
    assert error.value.field == "to_group"


# --- Member dates ---------------------------------------------------------------------------


def test_a_member_has_one_date_per_label(community, stages):
    member = student(stages["intensive"], joined=local(date(2026, 6, 1)))
    first, created = member_date_set(member=member, label="Exam", date=date(2026, 12, 20))
    again, created_again = member_date_set(member=member, label="exam", date="2026/12/26")
    assert created and not created_again and first.pk == again.pk
    assert MemberDate.objects.get(member=member).date == date(2026, 12, 26)
    for bad in ("20-12-2026", "", "1800-01-01"):
        with pytest.raises(ApplicationError):
            member_date_set(member=member, label="exam", date=bad)


def test_an_import_keeps_good_rows_and_reports_bad_ones_by_line(community, stages, other_community):
    a = student(stages["intensive"], joined=local(date(2026, 6, 1)), platform_id="qq-a")
    b = student(stages["intensive"], joined=local(date(2026, 6, 1)), platform_id="qq-b")
    member_date_set(member=b, label="exam", date=date(2026, 1, 1))
    stranger = Member.objects.create(community=other_community, display_name="外人")
    text = "\n".join(
        [
            "member,platform,user_id,label,date",
            f"{a.pk},,,exam,2026-12-20",
            f",{stages['intensive'].platform},qq-b,,2026/12/26",  # by account; default label
            f"{stranger.pk},,,exam,2026-12-20",  # another community's member
            f"{a.pk},,,exam,someday",
            ",,,,",
            f"{a.pk},,,interview,2027-03-01",
            ",telegram,qq-b,exam,2026-12-20",  # no such account on Telegram
        ]
    )
    report = member_dates_import(
        community=community, text=text, members=Member.objects.filter(community=community), default_label="exam"
    )
    assert (report.added, report.updated) == (2, 1)
    assert report.errors == [
        "Line 4: no such member.",
        "Line 5: Enter a date like 2026-12-20.",
        "Line 8: no such member.",
    ]
    assert dict(MemberDate.objects.filter(member=a).values_list("label", "date")) == {
        "exam": date(2026, 12, 20),
        "interview": date(2027, 3, 1),
    }
    assert MemberDate.objects.get(member=b).date == date(2026, 12, 26)


def test_an_import_sees_only_the_members_given(community, stages):
    a = student(stages["intensive"], joined=local(date(2026, 6, 1)))
    report = member_dates_import(
        community=community, text=f"member,date\n{a.pk},2026-12-20\n", members=Member.objects.none()
    )
    assert report.errors == ["Line 2: no such member."] and not MemberDate.objects.exists()


def test_an_import_without_a_header_is_refused_whole(community):
    with pytest.raises(ApplicationError):
        member_dates_import(community=community, text="1,2026-12-20\n", members=Member.objects.all())


def test_a_community_with_history_can_still_be_deleted(community, stages, base):
    rule_save(**base)
    student(stages["newcomer"], joined=local(date(2026, 1, 1)))
    member_date_set(member=Member.objects.get(display_name__startswith="考生"), label="exam", date=date(2026, 12, 20))
    lifecycle_run(community=community, now=local(date(2026, 3, 1)))
    assert LifecycleMove.objects.exists()
    community.delete()
    assert not LifecycleRule.objects.exists() and not LifecycleMove.objects.exists() and not MemberDate.objects.exists()
