"""Crediting referrals: each rule that rejects one, the credit and its points, and that a
second run changes nothing."""

from __future__ import annotations

import pytest

from engagement.services.points import points_rules
from fission.models import MatchedOn, Referral, ReferralStatus, RejectReason
from fission.services.referrals import referrals_credit
from members.models import MembershipSource, PointsEntry
from members.services import funnel, people
from members.services.points import points_balance
from tests.fission.conftest import apply_and_join, member_in, scan_and_join

pytestmark = pytest.mark.django_db


def verdict(membership) -> Referral:
    return Referral.objects.get(membership=membership)


def test_a_new_member_brought_in_is_credited_and_pays_the_inviter(community, photo, inviters):
    inviter = inviters[0]
    membership = apply_and_join(photo, inviter, "新朋友")
    result = referrals_credit(community=community)
    referral = verdict(membership)
    assert (referral.status, referral.reason) == (ReferralStatus.CREDITED, "")
    assert (referral.inviter, referral.invitee, referral.group) == (inviter, membership.member, photo)
    assert referral.joined_at == membership.joined_at
    assert result["credited"] == 1 and result["points"] == 20
    assert points_balance(member=inviter) == 20
    assert PointsEntry.objects.get(member=inviter).key == f"referral:{referral.pk}"


def test_crediting_twice_changes_nothing(community, photo, code, inviters):
    apply_and_join(photo, inviters[0], "甲")
    scan_and_join(code, inviters[1], "乙")
    first = referrals_credit(community=community)
    second = referrals_credit(community=community)
    assert first["credited"] == 2
    assert second.get("credited", 0) == 0 and second.get("rejected", 0) == 0
    assert Referral.objects.count() == 2
    assert PointsEntry.objects.filter(reason="invite_accepted").count() == 2
    assert points_balance(member=inviters[0]) == points_balance(member=inviters[1]) == 20


def test_the_live_code_is_recorded(community, code, inviters):
    membership = scan_and_join(code, inviters[1], "扫码")
    referrals_credit(community=community)
    assert verdict(membership).live_code == code


def test_inviting_yourself_by_phone_is_rejected(community, photo, inviters):
    inviter = inviters[0]
    membership = apply_and_join(photo, inviter, "小号", phone=inviter.phone)
    referrals_credit(community=community)
    referral = verdict(membership)
    assert (referral.status, referral.reason) == (ReferralStatus.REJECTED, RejectReason.SELF_INVITE)
    assert (referral.matched_on, referral.matched_member) == (MatchedOn.PHONE, inviter)
    assert points_balance(member=inviter) == 0


def test_a_phone_written_differently_is_the_same_phone(community, photo, inviters):
    inviter = inviters[0]
    membership = apply_and_join(photo, inviter, "小号", phone=f"+86 {inviter.phone}")
    referrals_credit(community=community)
    assert verdict(membership).reason == RejectReason.SELF_INVITE


def test_inviting_yourself_by_email_is_rejected(community, design, photo):
    inviter = member_in(design, "王老师", email="teacher@example.org")
    membership = apply_and_join(photo, inviter, "王老师的小号", email="Teacher@Example.org")
    referrals_credit(community=community)
    referral = verdict(membership)
    assert (referral.reason, referral.matched_on) == (RejectReason.SELF_INVITE, MatchedOn.EMAIL)


def test_inviting_your_own_account_is_rejected(community, coders, inviters):
    inviter = inviters[0]
    membership = people.membership_add(member=inviter, group=coders, source=MembershipSource.MANUAL, invited_by=inviter)
    referrals_credit(community=community)
    referral = verdict(membership)
    assert (referral.reason, referral.matched_on) == (RejectReason.SELF_INVITE, MatchedOn.MEMBER)


def test_a_contact_of_an_earlier_member_is_a_duplicate(community, design, photo, inviters):
    earlier = member_in(design, "老会员")
    membership = apply_and_join(photo, inviters[0], "老会员的新号", phone=earlier.phone)
    referrals_credit(community=community)
    referral = verdict(membership)
    assert (referral.status, referral.reason) == (ReferralStatus.REJECTED, RejectReason.DUPLICATE_CONTACT)
    assert (referral.matched_on, referral.matched_member) == (MatchedOn.PHONE, earlier)


def test_one_person_brought_in_twice_under_two_accounts_counts_once(community, photo, coders, inviters):
    first = apply_and_join(photo, inviters[0], "两个号", email="twice@example.org")
    referrals_credit(community=community)
    second = apply_and_join(coders, inviters[1], "两个号", email="twice@example.org")
    referrals_credit(community=community)
    assert verdict(first).status == ReferralStatus.CREDITED
    assert (verdict(second).reason, verdict(second).matched_member) == (RejectReason.DUPLICATE_CONTACT, first.member)
    assert points_balance(member=inviters[1]) == 0


def test_two_accounts_checked_in_one_run_credit_the_earlier(community, photo, coders, inviters):
    first = apply_and_join(photo, inviters[0], "两个号", email="twice@example.org")
    second = apply_and_join(coders, inviters[1], "两个号", email="twice@example.org")
    referrals_credit(community=community)
    assert verdict(first).status == ReferralStatus.CREDITED
    assert verdict(second).reason == RejectReason.DUPLICATE_CONTACT


def test_someone_already_in_the_community_is_not_new(community, design, coders, inviters):
    existing = member_in(design, "老成员")
    membership = people.membership_add(
        member=existing, group=coders, source=MembershipSource.INVITE, invited_by=inviters[0]
    )
    referrals_credit(community=community)
    assert (verdict(membership).status, verdict(membership).reason) == (
        ReferralStatus.REJECTED,
        RejectReason.ALREADY_MEMBER,
    )


def test_someone_who_left_and_comes_back_is_not_new(community, design, photo, inviters):
    leaver = member_in(design, "回流的人")
    people.membership_end(membership=leaver.memberships.get())
    people.handle_add(member=leaver, platform="wecom", external_id="wx-leaver")
    application = funnel.application_submit(
        group=photo, display_name="回流的人", platform="wecom", external_user_id="wx-leaver",
        verified=True, referred_by=inviters[0],
    )  # fmt: skip
    invitation = funnel.application_approve(application=application, by=None)
    membership = funnel.invitation_accept(token=invitation.token).membership
    assert membership.member == leaver and membership.invited_by == inviters[0]
    referrals_credit(community=community)
    assert verdict(membership).reason == RejectReason.ALREADY_MEMBER


def test_a_credited_invitee_joining_another_group_is_credited_once(community, photo, coders, inviters):
    first = apply_and_join(photo, inviters[0], "新人")
    referrals_credit(community=community)
    second = people.membership_add(
        member=first.member, group=coders, source=MembershipSource.INVITE, invited_by=inviters[1]
    )
    referrals_credit(community=community)
    assert verdict(second).reason == RejectReason.ALREADY_MEMBER
    assert Referral.objects.filter(invitee=first.member, status=ReferralStatus.CREDITED).count() == 1


def test_no_points_when_the_rule_is_off(community, photo, inviters):
    rules = points_rules(community=community)
    rules.invite_accepted = 0
    rules.save()
    membership = apply_and_join(photo, inviters[0], "新人")
    result = referrals_credit(community=community)
    assert verdict(membership).status == ReferralStatus.CREDITED
    assert result["points"] == 0 and points_balance(member=inviters[0]) == 0


def test_joins_without_an_inviter_are_left_alone(community, photo, code):
    apply_and_join(photo, None, "自己来的")
    scan_and_join(code, None, "扫码来的")
    assert referrals_credit(community=community).get("credited", 0) == 0
    assert not Referral.objects.exists()


def test_other_communities_are_not_touched(community, other_community, photo, inviters):
    apply_and_join(photo, inviters[0], "新人")
    referrals_credit(community=other_community)
    assert not Referral.objects.exists()


def test_batches_cover_everyone(community, photo, code, inviters):
    for index in range(5):
        scan_and_join(code, inviters[index % 2], f"批{index}")
    result = referrals_credit(community=community, batch=2)
    assert result["credited"] == 5 and Referral.objects.count() == 5


def test_the_task_credits_every_community_with_work(community, photo, inviters, eager_tasks):
    from fission.tasks import credit_all

    apply_and_join(photo, inviters[0], "新人")
    assert credit_all() == 1
    assert Referral.objects.filter(status=ReferralStatus.CREDITED).count() == 1
    assert credit_all() == 0
