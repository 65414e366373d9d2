"""Fission tests: inviters in 设计美学交流群 and friends they bring in through the real flows."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from fission.services.campaigns import campaign_save
from fission.services.referrals import referrals_credit
from members.models import LiveCode, Member, Membership
from members.services import funnel, livecodes, people
from members.services.referrals import member_invite_code
from tests.personas import (  # noqa: F401 - fixtures
    coders,
    design,
    owner,
    personas,
    photo,
    plain_member,
    sibling_admin,
    subtree_admin,
)

_phones = itertools.count(1)


def next_phone() -> str:
    return f"137{next(_phones):08d}"


def member_in(group, name: str, **fields) -> Member:
    """An existing member of ``group`` (joined through an import, long before any referral)."""
    fields.setdefault("phone", next_phone())
    member = people.member_create(community=group.community, display_name=name, **fields)
    people.memberships_import(group=group, members=[member])
    member.refresh_from_db()
    return member


def apply_and_join(group, inviter: Member | None, name: str, **contact) -> Membership:
    """A newcomer applies through ``inviter``'s link, an admin approves, they accept."""
    if not contact:
        contact = {"phone": next_phone()}
    application = funnel.application_submit(group=group, display_name=name, referred_by=inviter, **contact)
    invitation = funnel.application_approve(application=application, by=None)
    return funnel.invitation_accept(token=invitation.token).membership


def scan_and_join(code: LiveCode, inviter: Member | None, name: str) -> Membership:
    """A newcomer scans the live code from ``inviter``'s link."""
    return livecodes.livecode_join(code=code, display_name=name, invited_by=inviter)


@pytest.fixture
def inviters(design):  # noqa: F811
    """Two members of 设计美学交流群 with their invitation codes."""
    first, second = member_in(design, "李雷"), member_in(design, "韩梅梅")
    member_invite_code(member=first)
    member_invite_code(member=second)
    return first, second


@pytest.fixture
def code(community, design, photo):  # noqa: F811
    """A live code for 设计美学交流群's photography pool (摄影群 in it)."""
    return livecodes.livecode_create(
        community=community, name="摄影活码", parent=design, attribute="摄影", groups=[photo]
    )


@pytest.fixture
def example(community, design, photo, coders, code, inviters):  # noqa: F811
    """The hand-built example of test_coefficients.py: 2 inviters bring 5 (2.5)."""
    a, b = inviters
    campaign = campaign_save(
        community=community,
        name="设计群拉新",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
        group=design,
        goal_invites=3,
        reward_text="《豆瓣高分书单》",
    )
    scan_and_join(code, a, "甲一")
    scan_and_join(code, a, "甲二")
    apply_and_join(design, a, "甲三")
    apply_and_join(photo, b, "乙一")
    apply_and_join(coders, b, "乙二")
    apply_and_join(photo, a, "甲的小号", phone=a.phone)
    referrals_credit(community=community)
    return {"a": a, "b": b, "campaign": campaign}
