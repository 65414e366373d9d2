"""The members side of fission: invitation codes, and ``?ref=`` carried through applying,
approval and acceptance, and through live codes, to ``Membership.invited_by``."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import Application, Member, Membership
from members.services import funnel
from members.services.referrals import (
    INVITE_ALPHABET,
    inviter_first_name,
    member_by_invite_code,
    member_invite_code,
    normalise_invite_code,
)
from subgroups.models import Group
from tests.factories import MemberFactory
from tests.fission.conftest import apply_and_join, member_in, next_phone, scan_and_join

pytestmark = pytest.mark.django_db


def test_an_invite_code_is_made_once_short_and_unambiguous(community, inviters):
    inviter = inviters[0]
    code = member_invite_code(member=inviter)
    assert len(code) == 6 and set(code) <= set(INVITE_ALPHABET)
    assert not set(code) & set("01OIL")
    assert member_invite_code(member=Member.objects.get(pk=inviter.pk)) == code
    assert Member.objects.get(pk=inviter.pk).invite_code == code


def test_codes_differ_between_members(community):
    members = [MemberFactory(community=community) for _ in range(30)]
    codes = {member_invite_code(member=member) for member in members}
    assert len(codes) == 30


def test_a_taken_code_is_skipped(community, monkeypatch):
    first, second = MemberFactory(community=community), MemberFactory(community=community)
    drawn = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr("members.services.referrals._new_code", lambda length=6: next(drawn))
    assert member_invite_code(member=first) == "AAAAAA"
    assert member_invite_code(member=second) == "BBBBBB"


def test_a_code_in_any_case_finds_its_member_in_its_community_only(community, other_community, inviters):
    inviter = inviters[0]
    assert member_by_invite_code(community=community, code=f" {inviter.invite_code.lower()} ") == inviter
    assert member_by_invite_code(community=other_community, code=inviter.invite_code) is None
    assert member_by_invite_code(community=community, code="NOSUCH") is None
    assert member_by_invite_code(community=community, code="'; drop") is None
    assert normalise_invite_code("ab0") == ""


def test_the_first_name_is_all_a_page_shows(community):
    assert inviter_first_name(Member(display_name="Lin Wei")) == "Lin"
    assert inviter_first_name(Member(display_name="李雷")) == "李雷"


def test_a_referred_application_carries_the_inviter_to_the_membership(community, photo, inviters):
    membership = apply_and_join(photo, inviters[0], "新朋友")
    assert membership.invited_by == inviters[0]
    assert Application.objects.get(member=membership.member).referred_by == inviters[0]


def test_a_foreign_inviter_is_dropped(community, other_community, photo):
    stranger = member_in(Group.objects.get(community=other_community, name="北京车友群"), "外人")
    application = funnel.application_submit(
        group=photo, display_name="新朋友", phone=next_phone(), referred_by=stranger
    )
    assert application.referred_by is None


def test_a_live_code_join_carries_the_inviter(community, code, inviters):
    membership = scan_and_join(code, inviters[1], "扫码的人")
    assert membership.invited_by == inviters[1] and membership.live_code == code


def test_the_public_apply_page_reads_ref_and_keeps_it_through_the_post(client, community, photo, inviters):
    inviter = inviters[0]
    url = reverse("members:apply", args=[community.slug, photo.slug])
    page = client.get(url, {"ref": inviter.invite_code.lower()})
    assert page.status_code == 200
    assert "Invited by 李雷" in page.content.decode()
    assert f'name="ref" value="{inviter.invite_code}"' in page.content.decode()
    posted = client.post(url, {"display_name": "王五", "phone": next_phone(), "ref": inviter.invite_code})
    assert posted.status_code == 302
    application = Application.objects.get(display_name="王五")
    assert application.referred_by == inviter
    invitation = funnel.application_approve(application=application, by=None)
    accepted = client.post(reverse("members:invitation", args=[invitation.token]))
    assert accepted.status_code == 200
    assert Membership.objects.get(member__display_name="王五").invited_by == inviter


def test_an_unknown_or_foreign_ref_is_ignored_silently(client, community, other_community, photo, inviters):
    foreign = member_in(Group.objects.get(community=other_community, name="北京车友群"), "外人")
    member_invite_code(member=foreign)
    url = reverse("members:apply", args=[community.slug, photo.slug])
    for ref in ("ZZZZZZ", foreign.invite_code, "<script>"):
        page = client.get(url, {"ref": ref})
        assert page.status_code == 200 and 'data-testid="invited-by"' not in page.content.decode()
    client.post(url, {"display_name": "赵六", "phone": next_phone(), "ref": foreign.invite_code})
    assert Application.objects.get(display_name="赵六").referred_by is None


def test_the_live_code_page_reads_ref(client, community, code, inviters):
    inviter = inviters[1]
    url = reverse("members:livecode_public", args=[code.slug])
    page = client.get(url, {"ref": inviter.invite_code})
    assert "Invited by 韩梅梅" in page.content.decode()
    client.post(url, {"display_name": "扫码新人", "ref": inviter.invite_code})
    assert Membership.objects.get(member__display_name="扫码新人").invited_by == inviter


def test_the_public_api_takes_a_ref(anonymous_api, community, photo, inviters):
    response = anonymous_api.post(
        "/api/v1/public/applications/",
        {
            "community": community.slug,
            "group": photo.slug,
            "display_name": "接口申请人",
            "phone": next_phone(),
            "ref": inviters[0].invite_code,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Application.objects.get(pk=response.json()["id"]).referred_by == inviters[0]


def test_a_bot_resolving_a_live_code_passes_the_ref(api, community, code, inviters):
    response = api.post(
        f"/api/v1/live-codes/{code.slug}/resolve/",
        {
            "platform": "wecom",
            "external_user_id": "wx-new-1",
            "display_name": "机器人新人",
            "ref": inviters[0].invite_code,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Membership.objects.get(pk=response.json()["membership"]["id"]).invited_by == inviters[0]
