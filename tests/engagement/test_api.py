"""The engagement API: 201 and 200 for check-ins, 400 with the reason for a refused
redemption, 404 for what the caller can't see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from engagement.models import CheckIn, Level, OrganisedEvent, RedemptionStatus, RewardItem
from engagement.services.levels import levels_for
from engagement.services.points import points_rules
from engagement.services.shop import reward_redeem, reward_save
from members.models import Role
from members.services.points import points_balance
from tests.engagement.conftest import check_in_days, grant
from tests.factories import staff_user
from tests.personas import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(community, design):
    """A bot's user: an admin of 设计美学交流群 (manage members and content there and below)."""
    return api_client(staff_user("bot", group=design, role=Role.ADMIN))


# --- Check-ins ------------------------------------------------------------------------------------


def test_a_bot_checks_a_member_in_by_platform_account(bot, alice, photo):
    body = {"platform": "wecom", "user_id": "wx-alice", "group": photo.pk}
    first = bot.post("/api/v1/check-ins/", body, format="json")
    assert first.status_code == 201, first.content
    assert first.data["created"] and not first.data["already_checked_in"]
    assert first.data["points"] == 5 and first.data["balance"] == 5 and first.data["streak"]["current"] == 1
    assert first.data["group"] == photo.pk
    again = bot.post("/api/v1/check-ins/", {"member": alice.pk}, format="json")
    assert again.status_code == 200 and again.data["already_checked_in"] and again.data["points"] == 0
    assert again.data["check_in"] == first.data["check_in"]
    assert CheckIn.objects.filter(member=alice).count() == 1


def test_check_in_answers_404_outside_the_bots_groups(bot, bob, alice, coders, other_community):
    assert bot.post("/api/v1/check-ins/", {"member": bob.pk}, format="json").status_code == 404
    assert bot.post("/api/v1/check-ins/", {"member": alice.pk, "group": coders.pk}, format="json").status_code == 404
    unknown = {"platform": "wecom", "user_id": "nobody", "community": alice.community_id}
    assert bot.post("/api/v1/check-ins/", unknown, format="json").status_code == 404
    other = {"platform": "wecom", "user_id": "wx-alice", "community": other_community.pk}
    assert bot.post("/api/v1/check-ins/", other, format="json").status_code == 404
    assert not CheckIn.objects.exists()


def test_check_in_input_errors_are_400(bot, alice):
    response = bot.post("/api/v1/check-ins/", {}, format="json")
    assert response.status_code == 400 and "member" in response.data["extra"]["fields"]
    no_community = bot.post("/api/v1/check-ins/", {"platform": "wecom", "user_id": "wx-alice"}, format="json")
    assert no_community.status_code == 400
    assert bot.post("/api/v1/check-ins/", {"member": "x"}, format="json").status_code == 400
    assert bot.post("/api/v1/check-ins/", {"member": 10**30}, format="json").status_code == 400


def test_a_member_without_capabilities_cannot_check_anyone_in(community, plain_member, alice, anonymous_api):
    assert api_client(plain_member).post("/api/v1/check-ins/", {"member": alice.pk}, format="json").status_code == 404
    assert anonymous_api.post("/api/v1/check-ins/", {"member": alice.pk}, format="json").status_code == 401


# --- Member points --------------------------------------------------------------------------------


def test_a_members_points(owner, alice, community):
    grant(alice, 150)
    check_in_days(alice, 1, 0)
    response = api_client(owner).get(f"/api/v1/members/{alice.pk}/points/")
    assert response.status_code == 200
    data = response.data
    assert data["balance"] == 160 and data["lifetime"] == 160
    assert data["level"]["name"] == "Regular" and data["next_level"]["threshold"] == 300
    assert data["to_next_level"] == 140 and data["progress_percent"] == 30
    assert data["streak"]["current"] == 2
    assert data["recent"][0]["balance"] == 160 and len(data["recent"]) == 3


def test_points_of_a_member_one_cannot_see_are_404(subtree_admin, outsider, bob, alice):
    assert api_client(subtree_admin).get(f"/api/v1/members/{bob.pk}/points/").status_code == 404
    assert api_client(subtree_admin).get(f"/api/v1/members/{alice.pk}/points/").status_code == 200
    assert api_client(outsider).get(f"/api/v1/members/{alice.pk}/points/").status_code == 404
    assert api_client(outsider).get("/api/v1/members/999999999999999999999/points/").status_code == 404


# --- Rewards ------------------------------------------------------------------------------------


def test_managers_create_and_change_rewards(owner, subtree_admin, community, other_community):
    client = api_client(owner)
    level = levels_for(community=community)[1]
    body = {"community": community.pk, "name": "线下活动优先券", "cost": 200, "stock": 5, "requires_level": level.pk}
    created = client.post("/api/v1/rewards/", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.data["id"]
    assert client.patch(f"/api/v1/rewards/{pk}/", {"stock": 9}, format="json").data["stock"] == 9
    assert RewardItem.objects.get(pk=pk).requires_level == level
    foreign = levels_for(community=other_community)[0]
    bad = client.patch(f"/api/v1/rewards/{pk}/", {"requires_level": foreign.pk}, format="json")
    assert bad.status_code == 400
    assert client.post("/api/v1/rewards/", {**body, "cost": 0}, format="json").status_code == 400
    admin = api_client(subtree_admin)
    assert admin.get("/api/v1/rewards/").data["count"] == 1
    assert admin.post("/api/v1/rewards/", body, format="json").status_code == 403
    assert admin.patch(f"/api/v1/rewards/{pk}/", {"stock": 1}, format="json").status_code == 403


def test_redeeming_through_the_api(bot, community, alice):
    item = reward_save(community=community, name="《作文模板大全》", cost=100, stock=1)
    grant(alice, 70)
    refused = bot.post(f"/api/v1/rewards/{item.pk}/redeem/", {"member": alice.pk}, format="json")
    assert refused.status_code == 400 and "30 missing" in refused.data["message"]
    assert refused.data["extra"]["missing"] == 30
    grant(alice, 50)
    done = bot.post(f"/api/v1/rewards/{item.pk}/redeem/", {"platform": "wecom", "user_id": "wx-alice"}, format="json")
    assert done.status_code == 201 and done.data["status"] == RedemptionStatus.PENDING
    assert points_balance(member=alice) == 20
    sold_out = bot.post(f"/api/v1/rewards/{item.pk}/redeem/", {"member": alice.pk}, format="json")
    assert sold_out.status_code == 400 and "out of stock" in sold_out.data["message"]


def test_redeeming_for_a_member_one_does_not_manage(community, bob, alice, subtree_admin, plain_member, outsider):
    item = reward_save(community=community, name="贴纸", cost=1)
    grant(bob, 10)
    assert api_client(subtree_admin).post(f"/api/v1/rewards/{item.pk}/redeem/", {"member": bob.pk}).status_code == 404
    assert api_client(outsider).post(f"/api/v1/rewards/{item.pk}/redeem/", {"member": bob.pk}).status_code == 404
    guide = staff_user("guide", group=community.hub, role=Role.GUIDE)
    assert api_client(guide).post(f"/api/v1/rewards/{item.pk}/redeem/", {"member": bob.pk}).status_code == 403
    assert points_balance(member=bob) == 10


def test_redemptions_are_listed_fulfilled_and_cancelled(owner, subtree_admin, community, alice, bob):
    item = reward_save(community=community, name="贴纸", cost=10, stock=5)
    grant(alice, 50)
    grant(bob, 50)
    mine = reward_redeem(member=alice, item=item)
    theirs = reward_redeem(member=bob, item=item)
    admin = api_client(subtree_admin)
    listed = admin.get("/api/v1/redemptions/", {"status": "pending"})
    assert [row["id"] for row in listed.data["results"]] == [mine.pk]
    assert admin.post(f"/api/v1/redemptions/{theirs.pk}/fulfil/").status_code == 404
    assert admin.post(f"/api/v1/redemptions/{mine.pk}/cancel/").data["status"] == RedemptionStatus.CANCELLED
    assert admin.post(f"/api/v1/redemptions/{mine.pk}/cancel/").status_code == 400
    assert points_balance(member=alice) == 50
    assert api_client(owner).post(f"/api/v1/redemptions/{theirs.pk}/fulfil/").data["status"] == "fulfilled"


# --- Organised events ---------------------------------------------------------------------------


def test_organised_events_through_the_api(bot, subtree_admin, sibling_admin, alice, photo, coders):
    held = (timezone.localdate() - timedelta(days=2)).isoformat()
    body = {"group": photo.pk, "organiser": alice.pk, "title": "读书会", "held_on": held, "attendees": 9}
    created = bot.post("/api/v1/organised-events/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.data["points"] == 50 and points_balance(member=alice) == 50
    assert api_client(sibling_admin).post("/api/v1/organised-events/", body, format="json").status_code == 404
    assert bot.post("/api/v1/organised-events/", {**body, "group": coders.pk}, format="json").status_code == 404
    future = {**body, "held_on": (timezone.localdate() + timedelta(days=3)).isoformat()}
    assert bot.post("/api/v1/organised-events/", future, format="json").status_code == 400
    assert api_client(subtree_admin).get("/api/v1/organised-events/").data["count"] == 1
    assert api_client(sibling_admin).get("/api/v1/organised-events/").data["count"] == 0
    assert OrganisedEvent.objects.count() == 1


# --- Rules and levels ----------------------------------------------------------------------------


def test_points_rules_read_and_written(owner, subtree_admin, outsider, community):
    path = f"/api/v1/communities/{community.pk}/points-rules/"
    assert api_client(subtree_admin).get(path).data["check_in"] == 5
    rules = {"check_in": 6, "post": 12, "featured_post": 35, "invite_accepted": 25, "event_organised": 55,
             "streak_days": 7, "streak_bonus": 40}  # fmt: skip
    assert api_client(owner).put(path, rules, format="json").status_code == 200
    assert points_rules(community=community).featured_post == 35
    assert api_client(owner).patch(path, {"check_in": 3}, format="json").data["check_in"] == 3
    assert api_client(owner).put(path, {**rules, "streak_days": 0}, format="json").status_code == 400
    assert api_client(owner).put(path, {"check_in": 1}, format="json").status_code == 400, "PUT needs every rule"
    assert api_client(subtree_admin).put(path, rules, format="json").status_code == 403
    assert api_client(outsider).get(path).status_code == 404


def test_levels_read_and_replaced(owner, subtree_admin, community):
    path = f"/api/v1/communities/{community.pk}/levels/"
    levels = api_client(subtree_admin).get(path).data["levels"]
    assert [level["threshold"] for level in levels] == [0, 100, 300, 1000, 3000]
    new = [{"id": levels[0]["id"], "name": "新人", "threshold": 0}, {"name": "达人", "threshold": 500}]
    saved = api_client(owner).put(path, {"levels": new}, format="json")
    assert saved.status_code == 200 and [row["name"] for row in saved.data["levels"]] == ["新人", "达人"]
    assert Level.objects.filter(community=community).count() == 2
    bad = api_client(owner).put(path, {"levels": [{"name": "x", "threshold": 5}]}, format="json")
    assert bad.status_code == 400 and "starts at 0" in bad.data["message"]
    assert api_client(subtree_admin).put(path, {"levels": new}, format="json").status_code == 403
