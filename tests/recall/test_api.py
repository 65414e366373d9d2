"""The recall API: policies and stages, attempts and outcomes, the funnel, opt-outs, exit surveys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import Role
from members.services import people
from recall.models import Channel, ExitSurvey, OptOut, RecallAttempt, RecallPolicy
from recall.services import dispatch, policies
from recall.services.engine import recall_run
from tests.factories import staff_user
from tests.personas import api_client
from tests.recall.conftest import at_day, silent_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def reached(community, design, coders, policy, quiet_since):
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="A1 A2")
    members = [
        silent_member(design, quiet_since, platform_id="wx-1"),
        silent_member(coders, quiet_since, platform_id="wx-2"),
    ]
    for day in (30, 37, 60):
        now = at_day(quiet_since, day)
        recall_run(community=community, now=now)
        dispatch.attempts_dispatch(community_id=community.pk, now=now)
    return members


def test_the_funnel_for_those_who_see_the_groups(community, reached, owner, sibling_admin, outsider):
    response = api_client(owner).get("/api/v1/recall/funnel/", {"community": community.pk, "days": 365})
    assert response.status_code == 200
    body = response.json()
    assert body["total"]["sent"] == 6 and {row["channel"] for row in body["rows"]} == {"in_app", "platform", "phone"}
    mine = api_client(sibling_admin).get("/api/v1/recall/funnel/", {"community": community.pk, "days": 365}).json()
    assert mine["total"]["sent"] == 3, "程序员技术群's member only"
    assert api_client(outsider).get("/api/v1/recall/funnel/", {"community": community.pk}).status_code == 404
    bad = api_client(owner).get("/api/v1/recall/funnel/", {"community": community.pk, "days": "0"})
    assert bad.status_code == 400 and "days" in bad.json()["extra"]["fields"]


def test_policies_are_listed_and_changed_with_field_errors(community, policy, owner, subtree_admin, outsider):
    listed = api_client(owner).get("/api/v1/recall/policies/").json()
    assert [p["name"] for p in listed["results"]] == [policy.name] and len(listed["results"][0]["stages"]) == 3
    assert api_client(outsider).get("/api/v1/recall/policies/").json()["results"] == []
    assert api_client(outsider).get(f"/api/v1/recall/policies/{policy.pk}/").status_code == 404

    url = f"/api/v1/recall/policies/{policy.pk}/"
    assert api_client(subtree_admin).patch(url, {"monthly_cap": 2}, format="json").status_code == 403
    bad = api_client(owner).patch(url, {"quiet_start": "22:00", "quiet_end": None}, format="json")
    assert bad.status_code == 400 and "quiet_end" in bad.json()["extra"]["fields"]
    ok = api_client(owner).patch(url, {"monthly_cap": 2}, format="json")
    assert ok.status_code == 200 and ok.json()["monthly_cap"] == 2
    policy.refresh_from_db()
    assert policy.monthly_cap == 2 and policy.quiet_start is not None, "nothing else changed"


def test_stages_are_added_checked_and_removed(community, policy, owner):
    client = api_client(owner)
    bad = client.post(
        f"/api/v1/recall/policies/{policy.pk}/stages/",
        {"name": "第四步", "days_silent": 90, "channel": "platform", "template": "Hi {nmae}"},
        format="json",
    )
    assert bad.status_code == 400 and "template" in bad.json()["extra"]["fields"]
    made = client.post(
        f"/api/v1/recall/policies/{policy.pk}/stages/",
        {
            "name": "第四步",
            "days_silent": 90,
            "channel": "platform",
            "template": "Hi {name}",
            "segments": ["potential"],
        },
        format="json",
    )
    assert made.status_code == 201 and made.json()["position"] == 4
    stage_id = made.json()["id"]
    changed = client.patch(f"/api/v1/recall/stages/{stage_id}/", {"wait_days": 3}, format="json")
    assert (
        changed.status_code == 200 and changed.json()["wait_days"] == 3 and changed.json()["segments"] == ["potential"]
    )
    assert client.delete(f"/api/v1/recall/stages/{stage_id}/").status_code == 204
    wrong = client.post(
        f"/api/v1/recall/policies/{policy.pk}/stages/",
        {"name": "x", "days_silent": "many", "channel": "fax", "template": ""},
        format="json",
    )
    assert wrong.status_code == 400


def test_a_policy_is_created_in_a_community_one_runs(community, owner, other_community):
    client = api_client(owner)
    made = client.post("/api/v1/recall/policies/", {"community": community.pk, "name": "新策略"}, format="json")
    assert made.status_code == 201 and RecallPolicy.objects.filter(community=community, name="新策略").exists()
    elsewhere = client.post("/api/v1/recall/policies/", {"community": other_community.pk, "name": "x"}, format="json")
    assert elsewhere.status_code == 404


def test_attempts_are_scoped_and_calls_recorded(community, reached, owner, sibling_admin):
    mine = api_client(sibling_admin).get("/api/v1/recall/attempts/").json()["results"]
    assert {row["member"] for row in mine} == {reached[1].pk}
    call = RecallAttempt.objects.get(member=reached[0], channel=Channel.PHONE)
    assert (
        api_client(sibling_admin).post(f"/api/v1/recall/attempts/{call.pk}/call/", {"outcome": "reached"}).status_code
        == 404
    )
    bad = api_client(owner).post(f"/api/v1/recall/attempts/{call.pk}/call/", {"outcome": "maybe"}, format="json")
    assert bad.status_code == 400
    done = api_client(owner).post(
        f"/api/v1/recall/attempts/{call.pk}/call/", {"outcome": "refused", "opt_out": True}, format="json"
    )
    assert done.status_code == 200 and done.json()["call_outcome"] == "refused"
    assert OptOut.objects.filter(member=reached[0]).exists()


def test_a_bot_reports_opens_and_responses(community, design, reached):
    bot = staff_user("bot", group=design, role=Role.ADMIN)
    message = RecallAttempt.objects.get(member=reached[0], channel=Channel.PLATFORM)
    client = api_client(bot)
    assert client.post(f"/api/v1/recall/attempts/{message.pk}/opened/").json()["opened_at"]
    answered = client.post(f"/api/v1/recall/attempts/{message.pk}/responded/").json()
    assert answered["responded_at"] and answered["opened_at"]
    other = RecallAttempt.objects.get(member=reached[1], channel=Channel.PLATFORM)
    assert client.post(f"/api/v1/recall/attempts/{other.pk}/opened/").status_code == 404


def test_a_member_opts_out_through_the_bot(community, design, reached):
    bot = staff_user("bot", group=design, role=Role.ADMIN)
    client = api_client(bot)
    body = {"community": community.pk, "platform": design.platform, "user_id": "wx-1"}
    assert client.post("/api/v1/recall/opt-outs/", body, format="json").json() == {
        "member": reached[0].pk,
        "opted_out": True,
    }
    again = client.post("/api/v1/recall/opt-outs/", body | {"opted_out": False}, format="json")
    assert again.json()["opted_out"] is False
    # A member outside the bot's groups is not found, and a missing name is a 400.
    assert client.post("/api/v1/recall/opt-outs/", body | {"user_id": "wx-2"}, format="json").status_code == 404
    assert client.post("/api/v1/recall/opt-outs/", {"community": community.pk}, format="json").status_code == 400


def test_exit_surveys_are_answered_by_the_bot_and_reported(community, design, policy, quiet_since, owner):
    member = silent_member(design, quiet_since, platform_id="wx-9")
    people.membership_end(membership=member.memberships.get())
    recall_run(community=community, now=timezone.now() + timedelta(minutes=1))
    survey = ExitSurvey.objects.get(member=member)
    bot = staff_user("bot", group=design, role=Role.ADMIN)
    listed = api_client(bot).get("/api/v1/exit-surveys/", {"answered": "false"}).json()["results"]
    assert [row["id"] for row in listed] == [survey.pk]
    bad = api_client(bot).post(f"/api/v1/exit-surveys/{survey.pk}/answer/", {"reasons": ["other"]}, format="json")
    assert bad.status_code == 400 and "other_text" in bad.json()["extra"]["fields"]
    ok = api_client(bot).post(
        f"/api/v1/exit-surveys/{survey.pk}/answer/", {"reasons": ["content_outdated"]}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["answered_at"]
    report = api_client(owner).get("/api/v1/exit-surveys/report/", {"community": community.pk}).json()
    counts = {row["reason"]: row["count"] for row in report["reasons"]}
    assert report["answered"] == 1 and counts["content_outdated"] == 1 and counts["few_benefits"] == 0
