"""Fission pages: the overview and its exports, crediting now, campaigns, and the member's side
(the invitation landing page, its QR image and the member's own invitations page)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from engagement.services.passes import member_pass
from fission.models import Campaign, InviteTaskCompletion, Referral, ReferralStatus
from fission.services.campaigns import campaign_save
from members.services.referrals import member_invite_code
from tests.fission.conftest import apply_and_join, scan_and_join
from tests.personas import page_client

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def overview_url(community, **query) -> str:
    url = reverse("fission:overview", args=[community.slug])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def test_the_overview_shows_the_figures(community, owner, example):
    response = page_client(owner).get(overview_url(community))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-kpi="coefficient">2.50<' in html
    assert 'data-kpi="new">5<' in html and 'data-kpi="inviters">2<' in html
    assert "fission-group-chart" in html and '"benchmark": 2.8' in html
    assert "摄影活码" in html and "设计群拉新" in html
    assert "甲的小号" in html and "Invited themselves" in html
    assert "engagement/_growth_tabs" not in html and 'aria-label="Growth"' in html
    assert response.context["total"]["coefficient"] == 2.5


def test_phones_are_masked_except_for_owners(community, owner, subtree_admin, example):
    phone = example["a"].phone
    masked = f"{phone[:3]}****{phone[-4:]}"
    assert phone in page_client(owner).get(overview_url(community)).content.decode()
    html = page_client(subtree_admin).get(overview_url(community)).content.decode()
    assert phone not in html and masked in html


def test_a_subtree_admin_sees_only_their_groups(community, subtree_admin, example):
    response = page_client(subtree_admin).get(overview_url(community))
    names = [row["group"].name for row in response.context["groups"]]
    assert names == ["设计美学交流群", "摄影群"]
    assert response.context["total"]["new_members"] == 4
    assert not response.context["manages"]


def test_the_tables_export(community, owner, example):
    client = page_client(owner)
    response = client.get(overview_url(community, table="groups", export="csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Group", "Joined this group"]
    design = next(row for row in rows if row[0] == "设计美学交流群")
    assert design[1:5] == ["1", "4", "2", "2.0"]
    for table in ("live_codes", "campaigns", "inviters", "weekly"):
        assert client.get(overview_url(community, table=table, export="xlsx")).status_code == 200
    assert client.get(overview_url(community, table="nope", export="csv")).status_code == 404
    assert client.get(overview_url(community, table="groups", export="pdf")).status_code == 404


def test_a_bad_period_falls_back(community, owner, example):
    response = page_client(owner).get(overview_url(community, period="forever"))
    assert response.status_code == 200 and response.context["period"] == "90"


def test_credit_now_is_for_managers(community, owner, subtree_admin, photo, inviters):
    apply_and_join(photo, inviters[0], "新人")
    url = reverse("fission:credit", args=[community.slug])
    assert page_client(subtree_admin).post(url).status_code == 403
    assert not Referral.objects.exists()
    response = page_client(owner).post(url, follow=True)
    assert response.status_code == 200 and "1 credited" in response.content.decode()
    assert Referral.objects.get().status == ReferralStatus.CREDITED


def test_waiting_joins_are_pointed_out(community, owner, photo, inviters):
    apply_and_join(photo, inviters[0], "新人")
    html = page_client(owner).get(overview_url(community)).content.decode()
    assert 'data-testid="waiting"' in html


def campaign_form(**values) -> dict:
    now = timezone.localtime(timezone.now(), timezone.get_fixed_timezone(480))
    data = {
        "name": "邀请3位好友解锁《豆瓣高分书单》",
        "starts_at": (now - timedelta(days=1)).strftime(LOCAL),
        "ends_at": (now + timedelta(days=13)).strftime(LOCAL),
        "group": "",
        "goal_invites": "3",
        "reward_text": "《豆瓣高分书单》",
        "reward_points": "50",
        "reward_url": "https://example.org/books",
        "is_active": "on",
    }
    data.update(values)
    return data


def test_an_owner_creates_a_campaign(community, owner):
    url = reverse("fission:campaigns", args=[community.slug])
    response = page_client(owner).post(url, campaign_form())
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/campaigns/{campaign.pk}/")
    assert (campaign.goal_invites, campaign.reward_points, campaign.group) == (3, 50, None)
    assert timezone.now() - timedelta(days=1, minutes=2) < campaign.starts_at < timezone.now()


def test_a_campaign_that_ends_before_it_starts_is_refused(community, owner):
    url = reverse("fission:campaigns", args=[community.slug])
    now = timezone.now()
    response = page_client(owner).post(
        url, campaign_form(ends_at=(now - timedelta(days=3)).strftime(LOCAL), goal_invites="0")
    )
    assert response.status_code == 400
    assert "The campaign must end after it starts." in response.content.decode()
    assert response.context["form"].errors["goal_invites"]
    assert not Campaign.objects.exists()


def test_a_group_outside_the_users_view_is_not_offered(community, owner, other_community):
    url = reverse("fission:campaigns", args=[community.slug])
    response = page_client(owner).post(url, campaign_form(group=str(other_community.hub.pk)))
    assert response.status_code == 400 and not Campaign.objects.exists()


def test_admins_below_the_hub_read_campaigns_but_do_not_change_them(community, subtree_admin, design):
    url = reverse("fission:campaigns", args=[community.slug])
    client = page_client(subtree_admin)
    assert client.get(url).status_code == 200
    assert "new-campaign" not in client.get(url).content.decode()
    assert client.post(url, campaign_form(group=str(design.pk))).status_code == 403
    assert not Campaign.objects.exists()


def test_an_owner_edits_and_deletes_a_campaign(community, owner, design):
    client = page_client(owner)
    client.post(reverse("fission:campaigns", args=[community.slug]), campaign_form())
    campaign = Campaign.objects.get()
    url = reverse("fission:campaign", args=[community.slug, campaign.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, campaign_form(goal_invites="5", group=str(design.pk)))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.goal_invites, campaign.group) == (5, design)
    assert client.post(url, {"delete": "1"}).status_code == 302
    assert not Campaign.objects.exists()


def test_a_completed_campaign_is_kept(community, owner, example):
    campaign = example["campaign"]
    url = reverse("fission:campaign", args=[community.slug, campaign.pk])
    response = page_client(owner).post(url, {"delete": "1"}, follow=True)
    assert "switch it off instead" in response.content.decode()
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    html = page_client(owner).get(url).content.decode()
    assert 'data-kpi="completions">1<' in html and 'data-kpi="new">4<' in html


def test_a_campaign_of_another_community_is_not_found(community, owner, other_community):
    campaign = campaign_save(
        community=other_community,
        name="别人的活动",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=1),
        goal_invites=1,
        reward_text="奖品",
    )
    assert page_client(owner).get(reverse("fission:campaign", args=[community.slug, campaign.pk])).status_code == 404


# --- The member's side ----------------------------------------------------------------------------


def test_the_landing_page_names_the_inviter_and_the_ways_in(client, community, photo, code, inviters):
    inviter = inviters[0]
    response = client.get(reverse("fission:landing", args=[inviter.invite_code.lower()]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "李雷 invites you." in html and community.name in html
    assert inviter.phone not in html
    assert f"/apply/{community.slug}/{photo.slug}/?ref={inviter.invite_code}" in html
    assert f"/j/{code.slug}/?ref={inviter.invite_code}" in html


def test_an_unknown_code_is_not_found(client, community):
    assert client.get(reverse("fission:landing", args=["ZZZZZZ"])).status_code == 404
    assert client.get(reverse("fission:landing", args=["no-such!"])).status_code == 404
    assert client.get(reverse("fission:landing_qr", args=["ZZZZZZ"])).status_code == 404


def test_the_qr_image(client, community, inviters):
    response = client.get(reverse("fission:landing_qr", args=[inviters[0].invite_code]))
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_my_invites_shows_the_link_the_count_and_the_task(client, community, photo, code, inviters):
    inviter = inviters[1]
    campaign_save(
        community=community,
        name="邀请3位好友解锁《豆瓣高分书单》",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=7),
        goal_invites=3,
        reward_text="《豆瓣高分书单》",
    )
    scan_and_join(code, inviter, "朋友一")
    apply_and_join(photo, inviter, "朋友二")
    url = reverse("fission:my_invites", args=[member_pass(member=inviter).token])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/i/{inviter.invite_code}/" in html
    assert reverse("fission:landing_qr", args=[inviter.invite_code]) in html
    assert "2 friends joined through your link." in html
    assert "2 of 3 friends joined — invite 1 more to unlock 《豆瓣高分书单》" in html
    assert Referral.objects.filter(inviter=inviter, status=ReferralStatus.CREDITED).count() == 2

    scan_and_join(code, inviter, "朋友三")
    html = client.get(url).content.decode()
    assert "Unlocked: 《豆瓣高分书单》" in html
    assert InviteTaskCompletion.objects.filter(member=inviter).count() == 1


def test_my_invites_makes_the_code_on_first_use(client, community, design):
    from tests.fission.conftest import member_in

    member = member_in(design, "新来的")
    assert member.invite_code is None
    response = client.get(reverse("fission:my_invites", args=[member_pass(member=member).token]))
    member.refresh_from_db()
    assert response.status_code == 200 and member.invite_code
    assert member_invite_code(member=member) == member.invite_code
    assert "0 friends joined through your link." in response.content.decode()


def test_my_invites_with_a_wrong_token_is_not_found(client, community):
    assert client.get(reverse("fission:my_invites", args=["nope"])).status_code == 404
