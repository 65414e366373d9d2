"""The admin programme's API, as an operator's dashboard and a bot use it."""

from __future__ import annotations

import pytest

from analytics.services.metrics import local_today
from members.models import Membership, Role
from members.services import people
from programme import selectors
from programme.models import PeerVote, VotingRound
from tests.personas import api_client
from tests.programme.conftest import member_in, online, posting

pytestmark = pytest.mark.django_db


def weeks_online(member, group, hours: int) -> None:
    for monday in selectors.complete_weeks(group.community):
        online(member, group, monday, hours)


@pytest.fixture
def bot(subtree_admin):
    """An integration whose user is an admin of 设计美学交流群."""
    return api_client(subtree_admin)


@pytest.fixture
def nominee(design):
    member = member_in(design, "候选人")
    weeks_online(member, design, 17)
    return member


@pytest.fixture
def voting_round(bot, design, nominee):
    response = bot.post("/api/v1/voting-rounds/", {"group": design.pk, "min_votes": 2}, format="json")
    assert response.status_code == 201, response.content
    return VotingRound.objects.get(pk=response.json()["id"])


def test_team_shape(bot, design, community):
    body = bot.get(f"/api/v1/groups/{design.pk}/team-shape/").json()
    assert body["group"] == design.pk and body["healthy"] is False
    assert [check["key"] for check in body["checks"]] == ["lead", "core", "user_admins"]
    assert body["checks"][1] == {
        "key": "core",
        "label": "Core admins",
        "have": 0,
        "target": 3,
        "low": 3,
        "high": 3,
        "verdict": "under",
        "sentence": "3 more core admins needed.",
    }


def test_online_hours(bot, design, nominee):
    body = bot.get(f"/api/v1/groups/{design.pk}/online-hours/", {"weeks": 2}).json()
    assert body["weeks"] == [f"{monday}" for monday in selectors.complete_weeks(design.community, 2)]
    assert body["members"] == [
        {"member": nominee.pk, "name": "候选人", "weeks": [17, 17], "average": 17.0, "is_staff": False}
    ]


@pytest.mark.parametrize("query", [{"weeks": 0}, {"weeks": 13}, {"weeks": "x"}, {"limit": 0}])
def test_online_hours_refuses_bad_parameters(bot, design, query):
    response = bot.get(f"/api/v1/groups/{design.pk}/online-hours/", query)
    assert response.status_code == 400 and set(response.json()["extra"]["fields"]) <= {"weeks", "limit"}


def test_a_round_is_created_with_its_nominees(voting_round, bot, nominee):
    body = bot.get(f"/api/v1/voting-rounds/{voting_round.pk}/").json()
    assert body["status"] == "open" and body["accepts_votes"] is True and body["threshold_hours"] == 15
    assert body["nominees"] == [
        {
            "id": voting_round.nominations.get().pk,
            "member": nominee.pk,
            "name": "候选人",
            "online_hours": 17.0,
            "votes": 0,
            "approvals": 0,
            "recognition": None,
            "qualified": False,
            "appointed_at": None,
        }
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"threshold_recognition": 2}, "threshold_recognition"),
        ({"month": "2026/11"}, "month"),
        ({"days": 0}, "days"),
    ],
)
def test_bad_rounds_are_400s(bot, design, data, field):
    response = bot.post("/api/v1/voting-rounds/", {"group": design.pk, **data}, format="json")
    assert response.status_code == 400 and field in response.json()["extra"]["fields"]
    assert not VotingRound.objects.exists()


def test_a_bot_votes_by_platform_account(bot, voting_round, design, nominee):
    voter = member_in(design, "投票人")
    people.handle_add(member=voter, platform="wechat", external_id="wx-voter")
    people.handle_add(member=nominee, platform="wechat", external_id="wx-nominee")
    url = f"/api/v1/voting-rounds/{voting_round.pk}/votes/"
    data = {"platform": "wechat", "user_id": "wx-voter", "nominee_user_id": "wx-nominee", "approve": True}
    first = bot.post(url, data, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["voter"] == voter.pk and first.json()["nominee"] == nominee.pk
    assert bot.post(url, {**data, "approve": False}, format="json").status_code == 200
    assert list(PeerVote.objects.values_list("voter", "approve")) == [(voter.pk, False)]


@pytest.mark.parametrize(
    ("who", "field"),
    [("self", "voter"), ("sibling", "voter"), ("nobody", "voter"), ("not_nominee", "nominee"), ("unnamed", "voter")],
)
def test_votes_breaking_the_rules_are_400s(bot, voting_round, design, coders, nominee, who, field):
    voter = member_in(design, "投票人")
    data = {"voter": voter.pk, "nominee": nominee.pk, "approve": True}
    if who == "self":
        data["voter"] = nominee.pk
    elif who == "sibling":
        data["voter"] = member_in(coders).pk
    elif who == "nobody":
        data["voter"] = 999999
    elif who == "not_nominee":
        data["nominee"] = voter.pk
    else:
        del data["voter"]
    response = bot.post(f"/api/v1/voting-rounds/{voting_round.pk}/votes/", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert not PeerVote.objects.exists()


def test_a_closed_round_refuses_votes(bot, voting_round, design, nominee):
    assert bot.post(f"/api/v1/voting-rounds/{voting_round.pk}/close/").json()["status"] == "closed"
    response = bot.post(
        f"/api/v1/voting-rounds/{voting_round.pk}/votes/",
        {"voter": member_in(design).pk, "nominee": nominee.pk, "approve": True},
        format="json",
    )
    assert response.status_code == 400 and "closed" in response.json()["message"]


def test_appointing_after_enough_recognition(bot, voting_round, design, nominee):
    url = f"/api/v1/voting-rounds/{voting_round.pk}/appoint/"
    refused = bot.post(url, {"nominee": nominee.pk}, format="json")
    assert (
        refused.status_code == 400 and refused.json()["message"] == "候选人 is not qualified: 0 of the 2 votes needed."
    )
    for voter in (member_in(design), member_in(design)):
        bot.post(
            f"/api/v1/voting-rounds/{voting_round.pk}/votes/",
            {"voter": voter.pk, "nominee": nominee.pk, "approve": True},
            format="json",
        )
    response = bot.post(url, {"nominee": nominee.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["nominees"][0]["qualified"] is True and response.json()["nominees"][0]["appointed_at"]
    assert Membership.objects.get(member=nominee, group=design).role == Role.ADMIN


def test_computing_assessments(bot, design, community):
    last_month = selectors.previous_month(local_today(community))
    guide = member_in(design, "引导员")
    people.role_grant(member=guide, group=design, role=Role.GUIDE)
    posting(guide, design, last_month.replace(day=4), messages=8)
    response = bot.post(f"/api/v1/groups/{design.pk}/assessments/compute/", {"month": f"{last_month:%Y-%m}"})
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert rows["引导员"]["activity_score"] == 100 and rows["引导员"]["month"] == f"{last_month}"
    assert rows["subtree_admin"]["kept"] is False


def test_running_the_rotation(bot, design, community):
    last_month = selectors.previous_month(local_today(community))
    active = member_in(design, "活跃")
    posting(active, design, last_month.replace(day=4), messages=8)
    response = bot.post(f"/api/v1/groups/{design.pk}/rotation/", {"month": f"{last_month:%Y-%m}", "top": 3})
    assert response.status_code == 200
    (guide,) = response.json()
    assert (guide["member"], guide["role"]) == (active.pk, "guide")


@pytest.mark.parametrize("month", ["", "2026-13", "November", "2026-1"])
def test_months_must_be_year_and_month(bot, design, month):
    response = bot.post(f"/api/v1/groups/{design.pk}/rotation/", {"month": month})
    assert response.status_code == 400 and "month" in response.json()["extra"]["fields"]
