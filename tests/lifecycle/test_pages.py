"""Lifecycle pages: the stage flow, rules made and changed in forms, Run now, the history with its
filters and exports, and members' dates set by hand or imported."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, MoveStatus, TriggerKind
from lifecycle.services.engine import lifecycle_run
from members.models import Role
from tests.factories import staff_user
from tests.lifecycle.conftest import in_group, make_rule, student
from tests.personas import page_client

pytestmark = pytest.mark.django_db


def url(community, name, *args):
    return reverse(f"lifecycle:{name}", args=[community.slug, *args])


@pytest.fixture
def moved(community, stages):
    """Two newcomers of 40 days moved on to 强化复习群, one intensive student waiting for 冲刺押题群."""
    make_rule(
        community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30, name="入门30天"
    )
    for name in ("张一", "王二"):
        student(stages["newcomer"], joined=timezone.now() - timedelta(days=40), name=name)
    lifecycle_run(community=community)
    student(stages["intensive"], joined=timezone.now() - timedelta(days=100), name="李三")
    make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.FIXED_DATE,
        anchor_date=timezone.localdate() + timedelta(days=60), offset_days=90, name="考前90天",
    )  # fmt: skip
    return stages


def set_date(member: str, day: str) -> dict:
    return {"action": "set", "date-member": member, "date-label": "exam", "date-date": day}


def form_data(stages, **values):
    data = {
        "rule-name": "冲刺转复试",
        "rule-from_group": stages["sprint"].pk,
        "rule-to_group": stages["alumni"].pk,
        "rule-trigger": TriggerKind.FIXED_DATE,
        "rule-anchor_date": "2026-12-20",
        "rule-offset_days": "-1",
        "rule-notice_template": "{name}，初试结束，欢迎来到「{to_group}」",
        "rule-is_active": "on",
    }
    data.update({f"rule-{key}": value for key, value in values.items()})
    return data


def test_the_page_shows_the_stages_the_rules_the_next_run_and_the_latest_moves(community, owner, moved):
    response = page_client(owner).get(url(community, "rules"))
    assert response.status_code == 200
    flow = response.context["flow"]
    assert [step["group"].name for step in flow] == ["新手入门群", "强化复习群", "冲刺押题群", "复试调剂群"]
    assert [step["group"].member_count for step in flow] == [0, 3, 0, 0]
    rules = {rule.name: rule for rule in response.context["rules"]}
    # The newcomers moved on are in 强化复习群 now: the date rule takes them along too.
    assert (rules["入门30天"].moved, rules["考前90天"].due_now) == (2, 3)
    assert {row["member_name"] for row in response.context["preview"]} == {"张一", "王二", "李三"}
    assert {move.member.display_name for move in response.context["recent"]} == {"张一", "王二"}
    html = response.content.decode()
    assert 'id="stage-flow"' in html and "Run now" in html and "90 days before" in html
    assert response.context["next_run"] > timezone.now()


def test_a_rule_is_created_from_the_form(community, owner, stages):
    response = page_client(owner).post(url(community, "rules"), form_data(stages))
    rule = LifecycleRule.objects.get()
    assert response.status_code == 302 and response["Location"] == url(community, "rule", rule.pk)
    assert (rule.trigger, rule.anchor_date, rule.offset_days, rule.created_by) == (
        TriggerKind.FIXED_DATE,
        date(2026, 12, 20),
        -1,
        owner,
    )
    page = page_client(owner).get(url(community, "rule", rule.pk))
    assert "1 days after 2026-12-20" in page.content.decode()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"notice_template": "{name} 去 {group}"}, "notice_template"),
        ({"notice_template": "{name"}, "notice_template"),
        ({"anchor_date": ""}, "anchor_date"),
        ({"trigger": TriggerKind.POINTS}, "threshold"),
        ({"to_group": "sprint"}, "to_group"),
        ({"offset_days": "abc"}, "offset_days"),
    ],
)
def test_a_bad_rule_is_a_form_error(community, owner, stages, values, field):
    if values.get("to_group") == "sprint":
        values = {"to_group": stages["sprint"].pk}
    response = page_client(owner).post(url(community, "rules"), form_data(stages, **values))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not LifecycleRule.objects.exists()


def test_the_hub_is_not_offered_as_a_target(community, owner, stages):
    response = page_client(owner).get(url(community, "rules"))
    form = response.context["form"]
    assert community.hub not in form.fields["to_group"].queryset
    assert community.hub in form.fields["from_group"].queryset


def test_a_rule_is_edited_paused_and_deleted_only_without_history(community, owner, moved):
    client = page_client(owner)
    used = LifecycleRule.objects.get(name="入门30天")
    unused = LifecycleRule.objects.get(name="考前90天")
    data = form_data(
        moved,
        name="考前100天",
        from_group=moved["intensive"].pk,
        to_group=moved["sprint"].pk,
        offset_days="100",
        anchor_date=unused.anchor_date.isoformat(),
    )
    response = client.post(url(community, "rule", unused.pk), {**data, "form": "rule"})
    assert response.status_code == 302
    unused.refresh_from_db()
    assert (unused.name, unused.offset_days) == ("考前100天", 100)

    response = client.post(url(community, "rule", unused.pk), {**data, "form": "rule", "rule-notice_template": "{x}"})
    assert response.status_code == 400 and response.context["form"].errors["notice_template"]

    client.post(url(community, "rule", used.pk), {"action": "pause"})
    assert not LifecycleRule.objects.get(pk=used.pk).is_active
    client.post(url(community, "rule", used.pk), {"action": "delete"})
    assert LifecycleRule.objects.filter(pk=used.pk).exists(), "a rule with history stays"
    client.post(url(community, "rule", unused.pk), {"action": "delete"})
    assert not LifecycleRule.objects.filter(pk=unused.pk).exists()


def test_the_rule_page_previews_who_moves_now_and_soon(community, owner, stages):
    rule = make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.MEMBER_DATE, date_label="exam", offset_days=90
    )
    from lifecycle.services.dates import member_date_set

    now_due = student(stages["intensive"], joined=timezone.now() - timedelta(days=10), name="马上")
    soon = student(stages["intensive"], joined=timezone.now() - timedelta(days=10), name="下周")
    member_date_set(member=now_due, label="exam", date=timezone.localdate() + timedelta(days=80))
    member_date_set(member=soon, label="exam", date=timezone.localdate() + timedelta(days=97))
    response = page_client(owner).get(url(community, "rule", rule.pk))
    preview = response.context["preview"]
    assert [row.member_name for row in preview["due"]] == ["马上"]
    assert [row.member_name for row in preview["upcoming"]] == ["下周"]


def test_run_now_moves_the_members_due(community, owner, moved, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client(owner).post(url(community, "run"))
    assert response.status_code == 302
    assert LifecycleMove.objects.filter(rule__name="考前90天", status=MoveStatus.MOVED).count() == 3


def test_the_history_filters_and_exports(community, owner, moved):
    client = page_client(owner)
    lifecycle_run(community=community)
    page = client.get(url(community, "history"))
    assert page.context["page"].paginator.count == 5
    rule = LifecycleRule.objects.get(name="入门30天")
    filtered = client.get(url(community, "history"), {"rule": rule.pk})
    assert {move.member.display_name for move in filtered.context["page"]} == {"张一", "王二"}
    assert client.get(url(community, "history"), {"q": "张"}).context["page"].paginator.count == 2
    assert client.get(url(community, "history"), {"group": moved["newcomer"].pk}).context["page"].paginator.count == 2
    assert client.get(url(community, "history"), {"status": "failed"}).context["page"].paginator.count == 0
    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()
    assert client.get(url(community, "history"), {"since": tomorrow}).context["page"].paginator.count == 0
    assert client.get(url(community, "history"), {"since": "garbage", "rule": "x" * 40}).status_code == 200
    csv = client.get(url(community, "history"), {"rule": rule.pk, "export": "csv"})
    text = csv.content.decode("utf-8-sig")
    assert csv.status_code == 200 and "张一" in text and "李三" not in text and "入门30天" in text
    xlsx = client.get(url(community, "history"), {"export": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get(url(community, "history"), {"export": "pdf"}).status_code == 404


def test_member_dates_are_set_by_id_account_or_name(community, owner, stages):
    client = page_client(owner)
    a = student(stages["intensive"], joined=timezone.now(), name="林同学", platform_id="qq-77")
    for who, day in (
        (str(a.pk), "2026-12-20"),
        (f"{stages['intensive'].platform}:qq-77", "2026-12-21"),
        ("林同学", "2026-12-22"),
    ):
        response = client.post(
            url(community, "dates"), {"action": "set", "date-member": who, "date-label": "exam", "date-date": day}
        )
        assert response.status_code == 302, response.content[:300]
    assert MemberDate.objects.get(member=a).date == date(2026, 12, 22)
    response = client.post(
        url(community, "dates"),
        {"action": "set", "date-member": "nobody", "date-label": "exam", "date-date": "2026-12-20"},
    )
    assert response.status_code == 400 and response.context["form"].errors["member"]
    response = client.post(
        url(community, "dates"), {"action": "set", "date-member": str(a.pk), "date-label": "exam", "date-date": "20/12"}
    )
    assert response.status_code == 400 and response.context["form"].errors["date"]
    page = client.get(url(community, "dates"))
    assert [row.member.display_name for row in page.context["page"]] == ["林同学"]
    client.post(url(community, "dates"), {"action": "remove", "id": MemberDate.objects.get().pk})
    assert not MemberDate.objects.exists()
    assert client.post(url(community, "dates"), {"action": "remove", "id": "99999"}).status_code == 404
    assert client.post(url(community, "dates"), {"action": "what"}).status_code == 404


def test_an_import_reports_bad_lines_and_keeps_good_ones(community, owner, stages):
    a = student(stages["intensive"], joined=timezone.now(), name="甲")
    upload = SimpleUploadedFile(
        "dates.csv", f"member,date\n{a.pk},2026-12-20\n999999,2026-12-20\n{a.pk},soon\n".encode("utf-8-sig")
    )
    response = page_client(owner).post(
        url(community, "dates"), {"action": "import", "import-file": upload, "import-label": "exam"}, follow=True
    )
    notes = [str(message) for message in response.context["messages"]]
    assert "Imported: 1 new, 0 updated." in notes
    assert "Line 3: no such member." in notes and "Line 4: Enter a date like 2026-12-20." in notes
    assert MemberDate.objects.get(member=a).date == date(2026, 12, 20)
    bad = SimpleUploadedFile("dates.csv", b"\xff\xfe\x00garbage")
    response = page_client(owner).post(
        url(community, "dates"), {"action": "import", "import-file": bad, "import-label": "exam"}
    )
    assert response.status_code == 400 and response.context["import_form"].errors["file"]


def test_a_group_admin_sees_only_moves_touching_their_groups(community, moved):
    lifecycle_run(community=community)
    newcomer_admin = staff_user("入门管理员", group=moved["newcomer"], role=Role.ADMIN)
    page = page_client(newcomer_admin).get(url(community, "history"))
    assert {(move.member.display_name, move.rule.name) for move in page.context["page"]} == {
        ("张一", "入门30天"),
        ("王二", "入门30天"),
    }
    rules_page = page_client(newcomer_admin).get(url(community, "rules"))
    assert [step["group"].name for step in rules_page.context["flow"]] == ["新手入门群"]
    assert not rules_page.context["editable"] and "Run now" not in rules_page.content.decode()


def test_a_group_admin_sets_dates_only_for_their_members(community, stages):
    admin = staff_user("强化管理员", group=stages["intensive"], role=Role.ADMIN)
    mine = student(stages["intensive"], joined=timezone.now(), name="强化生")
    theirs = student(stages["sprint"], joined=timezone.now(), name="冲刺生")
    client = page_client(admin)
    for member, expected in ((mine, 302), (theirs, 400)):
        response = client.post(url(community, "dates"), set_date(str(member.pk), "2026-12-20"))
        assert response.status_code == expected
    assert list(MemberDate.objects.values_list("member", flat=True)) == [mine.pk]
    assert in_group(theirs, stages["sprint"])
