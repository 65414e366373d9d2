"""The fission demo: referrals through the real flows, the checks at work, a campaign with its
completions, and a coefficient worth looking at."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from fission import selectors
from fission.demo import fission_demo
from fission.models import Campaign, InviteTaskCompletion, Referral, ReferralStatus, RejectReason
from members.models import KnockoutAction, KnockoutOperator, Member, Membership
from members.services import livecodes, people
from members.services.questionnaire import questionnaire_add_article_questions, rule_create
from tests.factories import add_members

pytestmark = pytest.mark.django_db


def old_members(group, count: int, start: int) -> None:
    """``count`` members of ``group`` since 90 days ago, each with a phone and a WeCom account."""
    members = add_members(group, count)
    for index, member in enumerate(members, start=start):
        people.handle_add(member=member, platform="wecom", external_id=f"wx-{index}")
    ids = [member.pk for member in members]
    Member.objects.filter(pk__in=ids).update(joined_at=timezone.now() - timedelta(days=90))
    for index, pk in enumerate(ids, start=start):
        Member.objects.filter(pk=pk).update(phone=f"1390000{index:04d}")
    Membership.objects.filter(member_id__in=ids).update(joined_at=timezone.now() - timedelta(days=90))


@pytest.fixture
def demo(community, design, photo, coders):
    old_members(design, 60, 0)
    old_members(photo, 20, 100)
    old_members(coders, 60, 200)
    questions = questionnaire_add_article_questions(group=coders)
    rule_create(
        question=questions[1],
        operator=KnockoutOperator.ANY_OF,
        value=["150-500人"],
        action=KnockoutAction.REJECT,
        reason="想要大群",
    )
    livecodes.livecode_create(community=community, name="摄影活码", parent=design, attribute="摄影", groups=[photo])
    return fission_demo(community=community, rng=random.Random(3))


def test_the_demo_brings_friends_in_and_credits_them(community, demo):
    referrals = Referral.objects.filter(community=community)
    assert demo.startswith("fission: ")
    figures = selectors.totals(referrals)
    assert 1.5 <= figures["coefficient"] <= 3.5, demo
    assert figures["inviters"] == 8
    assert not Membership.objects.filter(invited_by__isnull=False, referral__isnull=True).exists()
    assert referrals.filter(live_code__isnull=False).exists() and referrals.filter(live_code__isnull=True).exists()
    assert {RejectReason.SELF_INVITE, RejectReason.DUPLICATE_CONTACT, RejectReason.ALREADY_MEMBER} <= set(
        referrals.filter(status=ReferralStatus.REJECTED).values_list("reason", flat=True)
    )


def test_joins_are_spread_over_weeks(community, demo):
    weeks = selectors.weekly(Referral.objects.filter(community=community), community)
    assert len(weeks) >= 5


def test_the_campaign_completes_for_those_who_reached_its_goal(community, demo):
    campaign = Campaign.objects.get(community=community)
    assert campaign.name == "邀请3位好友解锁《豆瓣高分书单》"
    reached = set(
        Referral.objects.filter(campaign=campaign, status=ReferralStatus.CREDITED)
        .values("inviter_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=3)
        .values_list("inviter_id", flat=True)
    )
    assert reached and set(InviteTaskCompletion.objects.values_list("member_id", flat=True)) == reached
