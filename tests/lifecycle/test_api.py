"""The lifecycle API: rules CRUD with the same checks as the pages, a rule's preview, a run on
demand, the history with filters, and members' dates set by id or platform account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, TriggerKind
from lifecycle.services.dates import member_date_set
from members.models import Role
from tests.factories import staff_user
from tests.lifecycle.conftest import in_group, make_rule, student
from tests.personas import api_client

pytestmark = pytest.mark.django_db


def rule_body(community, stages, **values):
    body = {
        "community": community.pk,
        "name": "考前90天",
        "from_group": stages["intensive"].pk,
        "to_group": stages["sprint"].pk,
        "trigger": "member_date",
        "date_label": "exam",
        "offset_days": 90,
    }
    body.update(values)
    return body


def test_rules_are_created_read_changed_and_deleted(community, owner, stages):
    client = api_client(owner)
    response = client.post("/api/v1/lifecycle-rules/", rule_body(community, stages), format="json")
    assert response.status_code == 201, response.content
    rule_id = response.json()["id"]
    assert response.json()["to_group_name"] == "冲刺押题群" and "{name}" in response.json()["notice_template"]
    listed = client.get("/api/v1/lifecycle-rules/", {"community": community.pk}).json()["results"]
    assert [row["id"] for row in listed] == [rule_id]
    changed = client.patch(f"/api/v1/lifecycle-rules/{rule_id}/", {"offset_days": 60, "is_active": False})
    assert changed.status_code == 200 and (changed.json()["offset_days"], changed.json()["is_active"]) == (60, False)
    assert LifecycleRule.objects.get().date_label == "exam", "untouched fields stay"
    assert client.delete(f"/api/v1/lifecycle-rules/{rule_id}/").status_code == 204
    assert not LifecycleRule.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"notice_template": "{name} {oops}"}, "notice_template"),
        ({"notice_template": "{name"}, "notice_template"),
        ({"trigger": "fixed_date"}, "anchor_date"),
        ({"trigger": "points"}, "threshold"),
        ({"to_group": "hub"}, "to_group"),
        ({"to_group": "intensive"}, "to_group"),
        ({"trigger": "someday"}, "trigger"),
        ({"offset_days": 10**9}, "offset_days"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(community, owner, stages, values, field):
    if values.get("to_group") == "hub":
        values["to_group"] = community.hub.pk
    elif values.get("to_group") == "intensive":
        values["to_group"] = stages["intensive"].pk
    response = api_client(owner).post("/api/v1/lifecycle-rules/", rule_body(community, stages, **values), format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body.get("extra", {}).get("fields", {}) or field in body, body
    assert not LifecycleRule.objects.exists()


def test_a_group_of_another_community_is_refused(community, owner, stages, other_community):
    response = api_client(owner).post(
        "/api/v1/lifecycle-rules/", rule_body(community, stages, to_group=other_community.hub.pk), format="json"
    )
    assert response.status_code == 400 and "to_group" in response.json()["extra"]["fields"]


def test_a_rule_with_history_is_not_deleted(community, owner, stages):
    rule = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    student(stages["newcomer"], joined=timezone.now() - timedelta(days=5))
    assert api_client(owner).post(f"/api/v1/communities/{community.pk}/lifecycle/run/").json()["moved"] == 1
    assert api_client(owner).delete(f"/api/v1/lifecycle-rules/{rule.pk}/").status_code == 400
    assert LifecycleRule.objects.filter(pk=rule.pk).exists()


def test_the_preview_and_a_dry_run_write_nothing_and_a_run_moves(community, owner, stages):
    rule = make_rule(
        community, stages["intensive"], stages["sprint"], TriggerKind.MEMBER_DATE, date_label="exam", offset_days=90
    )
    due = student(stages["intensive"], joined=timezone.now() - timedelta(days=30), name="到期")
    soon = student(stages["intensive"], joined=timezone.now() - timedelta(days=30), name="快了")
    member_date_set(member=due, label="exam", date=timezone.localdate() + timedelta(days=30))
    member_date_set(member=soon, label="exam", date=timezone.localdate() + timedelta(days=100))
    client = api_client(owner)
    preview = client.get(f"/api/v1/lifecycle-rules/{rule.pk}/preview/").json()
    assert [row["member_name"] for row in preview["due"]] == ["到期"]
    assert [(row["member_name"], row["due"]) for row in preview["upcoming"]] == [
        ("快了", (timezone.localdate() + timedelta(days=10)).isoformat())
    ]
    assert client.get(f"/api/v1/lifecycle-rules/{rule.pk}/preview/", {"days": "5"}).json()["upcoming"] == []
    assert client.get(f"/api/v1/lifecycle-rules/{rule.pk}/preview/", {"days": "0"}).status_code == 400

    dry = client.post(f"/api/v1/communities/{community.pk}/lifecycle/run/", {"dry_run": True}).json()
    assert (dry["would_move"], [row["member_name"] for row in dry["preview"]]) == (1, ["到期"])
    assert not LifecycleMove.objects.exists() and in_group(due, stages["intensive"])
    run = client.post(f"/api/v1/communities/{community.pk}/lifecycle/run/").json()
    assert (run["moved"], run["notices"]) == (1, 1) and in_group(due, stages["sprint"])


def test_the_history_filters(community, owner, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    a = student(stages["newcomer"], joined=timezone.now() - timedelta(days=5), name="甲")
    student(stages["newcomer"], joined=timezone.now() - timedelta(days=5), name="乙")
    api_client(owner).post(f"/api/v1/communities/{community.pk}/lifecycle/run/")
    client = api_client(owner)
    rows = client.get("/api/v1/lifecycle-moves/", {"community": community.pk}).json()["results"]
    assert {row["member_name"] for row in rows} == {"甲", "乙"}
    assert all(row["left_at"] and row["status"] == "moved" for row in rows)
    assert [
        row["member_name"] for row in client.get("/api/v1/lifecycle-moves/", {"member": a.pk}).json()["results"]
    ] == ["甲"]
    assert client.get("/api/v1/lifecycle-moves/", {"status": "failed"}).json()["results"] == []
    assert len(client.get("/api/v1/lifecycle-moves/", {"group": stages["intensive"].pk}).json()["results"]) == 2
    assert client.get("/api/v1/lifecycle-moves/", {"status": "nope"}).status_code == 400


def test_bots_set_member_dates_by_platform_account(community, stages):
    bot = staff_user("bot", group=stages["intensive"], role=Role.ADMIN)
    member = student(stages["intensive"], joined=timezone.now(), platform_id="qq-42")
    client = api_client(bot)
    body = {
        "community": community.pk,
        "platform": stages["intensive"].platform,
        "user_id": "qq-42",
        "date": "2026-12-20",
    }
    first = client.post("/api/v1/member-dates/", body, format="json")
    assert first.status_code == 201 and first.json()["label"] == "exam" and first.json()["member"] == member.pk
    again = client.post("/api/v1/member-dates/", {**body, "date": "2026-12-26"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    changed = client.patch(f"/api/v1/member-dates/{first.json()['id']}/", {"date": "2026-12-27"}, format="json")
    assert changed.status_code == 200 and MemberDate.objects.get().date == date(2026, 12, 27)
    listed = client.get("/api/v1/member-dates/", {"community": community.pk, "label": "exam"}).json()["results"]
    assert [row["member_name"] for row in listed] == [member.display_name]
    assert client.post("/api/v1/member-dates/", {**body, "user_id": "nobody"}, format="json").status_code == 404
    assert client.post("/api/v1/member-dates/", {**body, "date": "someday"}, format="json").status_code == 400
    bad_label = client.post("/api/v1/member-dates/", {**body, "label": "exam day"}, format="json")
    assert bad_label.status_code == 400 and "label" in bad_label.json()["extra"]["fields"]
    no_one = {"community": community.pk, "date": "2026-12-20"}
    assert client.post("/api/v1/member-dates/", no_one, format="json").status_code == 400
    assert client.delete(f"/api/v1/member-dates/{first.json()['id']}/").status_code == 204
