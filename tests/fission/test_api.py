"""The fission API: a member's invitation link, the coefficients, campaigns and referrals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fission.models import Campaign, ReferralStatus
from tests.personas import api_client

pytestmark = pytest.mark.django_db


def test_a_bot_gets_a_members_invitation_link(community, owner, inviters):
    member = inviters[0]
    response = api_client(owner).get(f"/api/v1/members/{member.pk}/invite-link/")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == member.invite_code and body["url"].endswith(f"/i/{member.invite_code}/")
    assert body["qr_url"].endswith(f"/i/{member.invite_code}/qr.svg")


def test_the_link_is_made_on_first_use(community, owner, design):
    from tests.fission.conftest import member_in

    member = member_in(design, "新来的")
    body = api_client(owner).get(f"/api/v1/members/{member.pk}/invite-link/").json()
    member.refresh_from_db()
    assert body["code"] == member.invite_code and len(member.invite_code) == 6


def test_members_you_cannot_see_are_not_found(community, outsider, sibling_admin, inviters, anonymous_api):
    url = f"/api/v1/members/{inviters[0].pk}/invite-link/"
    assert api_client(outsider).get(url).status_code == 404
    assert api_client(sibling_admin).get(url).status_code == 404
    assert anonymous_api.get(url).status_code == 401
    assert api_client(outsider).get("/api/v1/members/999999/invite-link/").status_code == 404


def test_the_coefficients(community, owner, code, example):
    response = api_client(owner).get(f"/api/v1/fission/coefficients/?community={community.pk}&period=90")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["benchmark"] == 2.8 and body["period"] == "90"
    assert body["total"] == {"new_members": 5, "inviters": 2, "coefficient": 2.5, "rejected": 1}
    groups = {row["name"]: row for row in body["groups"]}
    assert groups["设计美学交流群"]["coefficient"] == 2.0 and groups["设计美学交流群"]["own_new_members"] == 1
    assert groups["摄影群"]["coefficient"] == 1.5
    assert body["live_codes"] == [
        {"live_code": code.pk, "name": "摄影活码", "new_members": 2, "inviters": 1, "coefficient": 2.0, "rejected": 0}
    ]
    assert body["campaigns"][0]["coefficient"] == 2.0 and body["campaigns"][0]["completions"] == 1
    assert sum(week["new_members"] for week in body["weekly"]) == 5


def test_the_coefficients_are_scoped(community, subtree_admin, sibling_admin, outsider, example):
    url = f"/api/v1/fission/coefficients/?community={community.pk}"
    assert api_client(subtree_admin).get(url).json()["total"]["coefficient"] == 2.0
    assert api_client(sibling_admin).get(url).json()["total"] == {
        "new_members": 1,
        "inviters": 1,
        "coefficient": 1.0,
        "rejected": 0,
    }
    assert api_client(outsider).get(url).status_code == 404


@pytest.mark.parametrize("query", ["community=abc", "", "community=1&period=7"])
def test_bad_coefficient_queries_are_400(community, owner, query):
    query = query.replace("community=1", f"community={community.pk}")
    response = api_client(owner).get(f"/api/v1/fission/coefficients/?{query}")
    assert response.status_code == 400 and "fields" in response.json()["extra"]


def campaign_body(community, **values) -> dict:
    now = timezone.now()
    return {
        "community": community.pk,
        "name": "邀请3位好友解锁《豆瓣高分书单》",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "goal_invites": 3,
        "reward_text": "《豆瓣高分书单》",
        "reward_points": 30,
        **values,
    }


def test_campaigns_crud(community, owner, design):
    client = api_client(owner)
    created = client.post("/api/v1/campaigns/", campaign_body(community), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert client.get(f"/api/v1/campaigns/?community={community.pk}").json()["results"][0]["id"] == pk
    changed = client.patch(f"/api/v1/campaigns/{pk}/", {"goal_invites": 5, "group": design.pk}, format="json")
    assert changed.status_code == 200 and changed.json()["goal_invites"] == 5 and changed.json()["group"] == design.pk
    assert client.delete(f"/api/v1/campaigns/{pk}/").status_code == 204
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"ends_at": "2000-01-01T00:00:00Z"}, "ends_at"),
        ({"goal_invites": 0}, "goal_invites"),
        ({"reward_url": "ftp://example.org"}, "reward_url"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_campaigns_are_400(community, owner, values, field):
    response = api_client(owner).post("/api/v1/campaigns/", campaign_body(community, **values), format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_a_group_of_another_community_is_400(community, owner, other_community):
    body = campaign_body(community, group=other_community.hub.pk)
    response = api_client(owner).post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 400 and "group" in response.json()["extra"]["fields"]


def test_only_hub_managers_change_campaigns(community, subtree_admin, outsider, owner):
    assert (
        api_client(subtree_admin).post("/api/v1/campaigns/", campaign_body(community), format="json").status_code == 403
    )
    assert api_client(outsider).post("/api/v1/campaigns/", campaign_body(community), format="json").status_code == 404
    pk = api_client(owner).post("/api/v1/campaigns/", campaign_body(community), format="json").json()["id"]
    assert api_client(subtree_admin).get(f"/api/v1/campaigns/{pk}/").status_code == 200
    assert (
        api_client(subtree_admin).patch(f"/api/v1/campaigns/{pk}/", {"goal_invites": 1}, format="json").status_code
        == 403
    )
    assert api_client(outsider).get(f"/api/v1/campaigns/{pk}/").status_code == 404


def test_a_completed_campaign_cannot_be_deleted(community, owner, example):
    response = api_client(owner).delete(f"/api/v1/campaigns/{example['campaign'].pk}/")
    assert response.status_code == 400 and Campaign.objects.exists()


def test_referrals_with_filters(community, owner, example):
    client = api_client(owner)
    everything = client.get("/api/v1/referrals/").json()
    assert everything["count"] == 6
    rejected = client.get("/api/v1/referrals/?status=rejected").json()["results"]
    assert [(row["invitee"]["display_name"], row["reason"]) for row in rejected] == [("甲的小号", "self_invite")]
    by_a = client.get(f"/api/v1/referrals/?inviter={example['a'].pk}&status=credited").json()
    assert by_a["count"] == 3
    in_campaign = client.get(f"/api/v1/referrals/?campaign={example['campaign'].pk}&status=credited").json()
    assert in_campaign["count"] == 4
    assert "phone" not in str(everything["results"][0]["inviter"])
    assert client.get("/api/v1/referrals/?status=maybe").status_code == 400


def test_referrals_are_scoped(community, subtree_admin, sibling_admin, outsider, example):
    assert api_client(subtree_admin).get("/api/v1/referrals/").json()["count"] == 5
    rows = api_client(sibling_admin).get("/api/v1/referrals/").json()["results"]
    assert [(row["invitee"]["display_name"], row["status"]) for row in rows] == [("乙二", ReferralStatus.CREDITED)]
    assert api_client(outsider).get("/api/v1/referrals/").json()["count"] == 0
