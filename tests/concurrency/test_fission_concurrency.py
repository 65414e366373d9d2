"""Real concurrent connections on PostgreSQL against fission: eight crediting runs at once over
the same referred joins, eight completion passes over the same campaign, and eight requests
for one member's invitation code."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from fission.models import Campaign, InviteTaskCompletion, Referral, ReferralStatus, RejectReason
from fission.services.campaigns import campaign_save, campaigns_complete
from fission.services.referrals import referrals_credit
from members.models import Member, Membership, PointsEntry
from members.services import livecodes, people
from members.services.referrals import member_invite_code
from outbox.models import OutboundMessage
from subgroups.models import Group
from tests.concurrency.test_tree_concurrency import THREADS, run_at_once
from tests.fission.conftest import apply_and_join, member_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def groups(community):
    return {group.name: group for group in Group.objects.filter(community=community)}


@pytest.fixture
def world(community, groups):
    """Three inviters with accounts; 14 friends joined: 12 new, a second account of one inviter,
    and a second account of one friend. A campaign of goal 3 with 40 reward points."""
    design, photo = groups["设计美学交流群"], groups["摄影群"]
    inviters = [member_in(design, name) for name in ("李雷", "韩梅梅", "王小明")]
    for index, inviter in enumerate(inviters):
        people.handle_add(member=inviter, platform="wecom", external_id=f"wx-inviter-{index}")
    campaign = campaign_save(
        community=community,
        name="邀请3位好友解锁《豆瓣高分书单》",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=7),
        goal_invites=3,
        reward_text="《豆瓣高分书单》",
        reward_points=40,
    )
    code = livecodes.livecode_create(
        community=community, name="摄影活码", parent=design, attribute="摄影", groups=[photo]
    )
    for index in range(12):
        inviter = inviters[index % 3] if index < 9 else inviters[0]  # 李雷 6, the others 3 each
        if index % 2:
            livecodes.livecode_join(code=code, display_name=f"扫码{index}", invited_by=inviter)
        else:
            apply_and_join(photo, inviter, f"申请{index}", email=f"friend{index}@example.org")
    apply_and_join(design, inviters[1], "小号", phone=inviters[1].phone)  # self-invite
    apply_and_join(design, inviters[2], "申请0的新号", email="friend0@example.org")  # duplicate contact
    return {"inviters": inviters, "campaign": campaign}


def test_crediting_runs_racing_credit_each_invitee_once_and_pay_once(community, world):
    errors = run_at_once(lambda _index: referrals_credit(community=community))
    assert errors == []
    referred = Membership.objects.filter(invited_by__isnull=False)
    assert referred.count() == 14 == Referral.objects.count()
    credited = Referral.objects.filter(status=ReferralStatus.CREDITED)
    assert credited.count() == 12
    assert Counter(credited.values_list("invitee_id", flat=True)).most_common(1)[0][1] == 1
    assert sorted(Referral.objects.filter(status=ReferralStatus.REJECTED).values_list("reason", flat=True)) == [
        RejectReason.DUPLICATE_CONTACT,
        RejectReason.SELF_INVITE,
    ]
    paid = PointsEntry.objects.filter(reason="invite_accepted")
    assert paid.count() == 12 and set(paid.values_list("key", flat=True)) == {
        f"referral:{pk}" for pk in credited.values_list("pk", flat=True)
    }
    # Everyone reached the goal of 3 (李雷 twice over): one completion, one reward, one message each.
    assert InviteTaskCompletion.objects.count() == 3
    assert PointsEntry.objects.filter(reason="invite_task").count() == 3
    assert OutboundMessage.objects.filter(dedupe_key__startswith="invite-task:").count() == 3
    lilei = world["inviters"][0]
    assert sum(PointsEntry.objects.filter(member=lilei).values_list("amount", flat=True)) == 6 * 20 + 40


def test_completion_passes_racing_complete_each_task_once(community, world):
    campaign: Campaign = world["campaign"]
    Campaign.objects.filter(pk=campaign.pk).update(is_active=False)
    referrals_credit(community=community)
    assert not InviteTaskCompletion.objects.exists()
    # The referrals join the campaign behind the services' back; eight passes then race to pay.
    Referral.objects.filter(status=ReferralStatus.CREDITED).update(campaign=campaign)
    counts = []
    errors = run_at_once(lambda _index: counts.append(campaigns_complete(community=community)))
    assert errors == []
    assert sum(counts) == 3 == InviteTaskCompletion.objects.count()
    assert PointsEntry.objects.filter(reason="invite_task").count() == 3
    assert OutboundMessage.objects.filter(dedupe_key__startswith="invite-task:").count() == 3


def test_requests_racing_for_a_code_get_the_same_one(community, groups):
    member = member_in(groups["程序员技术群"], "新来的")
    codes = []
    errors = run_at_once(lambda _index: codes.append(member_invite_code(member=Member.objects.get(pk=member.pk))))
    assert errors == []
    assert len(codes) == THREADS and len(set(codes)) == 1
    assert Member.objects.get(pk=member.pk).invite_code == codes[0]
