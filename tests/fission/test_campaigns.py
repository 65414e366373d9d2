"""Campaigns and their invite tasks: which referrals belong to a campaign, completion exactly
once at the goal with its points and message, and the campaign rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from fission.models import Campaign, InviteTaskCompletion, Referral
from fission.services.campaigns import campaign_delete, campaign_save
from fission.services.referrals import referrals_credit
from members.models import PointsEntry
from members.services import people
from members.services.points import points_balance
from outbox.models import OutboundMessage
from tests.fission.conftest import apply_and_join, scan_and_join

pytestmark = pytest.mark.django_db


def make_campaign(community, **values) -> Campaign:
    now = timezone.now()
    defaults = {
        "name": "邀请3位好友解锁《豆瓣高分书单》",
        "starts_at": now - timedelta(days=7),
        "ends_at": now + timedelta(days=7),
        "goal_invites": 3,
        "reward_text": "《豆瓣高分书单》",
        "reward_points": 100,
        "reward_url": "https://example.org/books",
    }
    return campaign_save(community=community, **{**defaults, **values})


def test_the_task_completes_once_when_the_goal_is_reached(community, photo, code, inviters):
    inviter = inviters[0]
    people.handle_add(member=inviter, platform="wecom", external_id="wx-lilei")
    campaign = make_campaign(community)
    scan_and_join(code, inviter, "一号")
    apply_and_join(photo, inviter, "二号")
    referrals_credit(community=community)
    assert not InviteTaskCompletion.objects.exists()

    scan_and_join(code, inviter, "三号")
    result = referrals_credit(community=community)
    assert result["completed"] == 1
    completion = InviteTaskCompletion.objects.get()
    assert (completion.campaign, completion.member, completion.invites) == (campaign, inviter, 3)
    assert PointsEntry.objects.get(reason="invite_task").key == f"campaign:{campaign.pk}:{inviter.pk}"
    assert points_balance(member=inviter) == 3 * 20 + 100
    message = OutboundMessage.objects.get(dedupe_key=f"invite-task:{campaign.pk}:{inviter.pk}")
    assert (message.recipient_platform, message.recipient_external_id) == ("wecom", "wx-lilei")
    assert "《豆瓣高分书单》" in message.body and "https://example.org/books" in message.body
    assert "/me/" in message.body

    scan_and_join(code, inviter, "四号")
    assert referrals_credit(community=community)["completed"] == 0
    referrals_credit(community=community)
    assert InviteTaskCompletion.objects.count() == 1
    assert PointsEntry.objects.filter(reason="invite_task").count() == 1
    assert OutboundMessage.objects.filter(dedupe_key__startswith="invite-task:").count() == 1
    assert points_balance(member=inviter) == 4 * 20 + 100


def test_no_message_without_an_account_to_send_it_to(community, code, inviters):
    make_campaign(community, goal_invites=1)
    scan_and_join(code, inviters[0], "一号")
    referrals_credit(community=community)
    assert InviteTaskCompletion.objects.count() == 1
    assert not OutboundMessage.objects.filter(dedupe_key__startswith="invite-task:").exists()


def test_rejected_referrals_do_not_count_towards_the_goal(community, photo, inviters):
    inviter = inviters[0]
    make_campaign(community, goal_invites=1)
    apply_and_join(photo, inviter, "小号", phone=inviter.phone)
    referrals_credit(community=community)
    assert Referral.objects.get().campaign is not None
    assert not InviteTaskCompletion.objects.exists()


def test_only_joins_in_the_window_and_scope_belong_to_a_campaign(community, design, photo, coders, code, inviters):
    scoped = make_campaign(community, name="设计群拉新", group=design)
    past = make_campaign(
        community,
        name="上个月",
        starts_at=timezone.now() - timedelta(days=60),
        ends_at=timezone.now() - timedelta(days=30),
    )
    into_photo = scan_and_join(code, inviters[0], "摄影新人")
    into_coders = apply_and_join(coders, inviters[0], "程序员新人")
    referrals_credit(community=community)
    assert Referral.objects.get(membership=into_photo).campaign == scoped
    assert Referral.objects.get(membership=into_coders).campaign is None
    assert not past.referrals.exists()


def test_the_narrowest_campaign_wins(community, design, code, inviters):
    make_campaign(community, name="全社群")
    narrow = make_campaign(community, name="设计群", group=design)
    membership = scan_and_join(code, inviters[0], "新人")
    referrals_credit(community=community)
    assert Referral.objects.get(membership=membership).campaign == narrow


def test_a_campaign_made_afterwards_claims_its_window_and_completes_tasks(community, code, inviters):
    for index in range(2):
        scan_and_join(code, inviters[1], f"新人{index}")
    referrals_credit(community=community)
    assert not Referral.objects.filter(campaign__isnull=False).exists()
    campaign = make_campaign(community, goal_invites=2)
    assert campaign.referrals.count() == 2
    assert InviteTaskCompletion.objects.filter(campaign=campaign, member=inviters[1]).exists()


def test_switching_a_campaign_off_lets_its_referrals_go(community, code, inviters):
    campaign = make_campaign(community, goal_invites=5)
    scan_and_join(code, inviters[0], "新人")
    referrals_credit(community=community)
    assert campaign.referrals.count() == 1
    values = {name: getattr(campaign, name) for name in ("name", "starts_at", "ends_at", "goal_invites", "reward_text")}
    campaign_save(community=community, campaign=campaign, is_active=False, **values)
    assert campaign.referrals.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": timezone.now() - timedelta(days=30)}, "ends_at"),
        ({"goal_invites": 0}, "goal_invites"),
        ({"goal_invites": True}, "goal_invites"),
        ({"name": "  "}, "name"),
        ({"reward_text": ""}, "reward_text"),
        ({"reward_points": -1}, "reward_points"),
        ({"reward_url": "javascript:alert(1)"}, "reward_url"),
        ({"starts_at": None}, "starts_at"),
    ],
)
def test_campaign_rules(community, change, field):
    with pytest.raises(ApplicationError) as error:
        make_campaign(community, **change)
    assert field in error.value.extra["fields"]
    assert not Campaign.objects.exists()


def test_a_group_of_another_community_is_refused(community, other_community):
    with pytest.raises(ApplicationError) as error:
        make_campaign(community, group=other_community.hub)
    assert "group" in error.value.extra["fields"]


def test_a_completed_campaign_cannot_be_deleted(community, code, inviters):
    campaign = make_campaign(community, goal_invites=1)
    scan_and_join(code, inviters[0], "新人")
    referrals_credit(community=community)
    with pytest.raises(ApplicationError):
        campaign_delete(campaign=campaign)
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_deleting_a_campaign_frees_its_referrals_for_another(community, design, code, inviters):
    broad = make_campaign(community, name="全社群", goal_invites=9)
    narrow = make_campaign(community, name="设计群", group=design, goal_invites=9)
    membership = scan_and_join(code, inviters[0], "新人")
    referrals_credit(community=community)
    campaign_delete(campaign=narrow)
    assert Referral.objects.get(membership=membership).campaign == broad
