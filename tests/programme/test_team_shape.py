"""The team's shape against 1 lead + 3 core admins + ~10% user admins."""

from __future__ import annotations

import pytest

from members.models import Role
from members.services import people
from programme import selectors
from tests.factories import add_members

pytestmark = pytest.mark.django_db


def checks(group) -> dict[str, tuple[int, str, str]]:
    shape = selectors.team_shape(group=group)
    return {check.key: (check.have, check.verdict, check.sentence) for check in shape.checks}


def grant(members, group, role):
    for member in members:
        people.role_grant(member=member, group=group, role=role)


def test_an_understaffed_group_is_told_what_it_needs(community, design):
    members = add_members(design, 120)
    grant(members[:1], community.hub, Role.CORE_ADMIN)  # a hub role covers the group
    result = checks(design)
    assert result["lead"] == (0, "under", "No lead: name 1 owner.")
    assert result["core"] == (1, "under", "2 more core admins needed.")
    assert result["user_admins"] == (
        0,
        "under",
        "0 user admins for 120 members (0%): about 12 more user admins.",
    )
    assert not selectors.team_shape(group=design).healthy


def test_a_healthy_group(community, design, photo):
    members = add_members(design, 36) + add_members(photo, 4)
    grant(members[:1], community.hub, Role.OWNER)
    grant(members[1:4], design, Role.CORE_ADMIN)
    grant(members[4:6], design, Role.ADMIN)
    grant(members[36:38], photo, Role.GUIDE)  # user admins below the group count
    shape = selectors.team_shape(group=design)
    assert shape.members == 40
    assert [(check.key, check.have, check.verdict) for check in shape.checks] == [
        ("lead", 1, "ok"),
        ("core", 3, "ok"),
        ("user_admins", 4, "ok"),
    ]
    assert shape.healthy
    assert shape.checks[2].sentence == "4 user admins for 40 members (10%): within 5–15%."


@pytest.mark.parametrize(("user_admins", "verdict"), [(1, "under"), (2, "ok"), (6, "ok"), (7, "over")])
def test_user_admins_are_fine_from_5_to_15_percent(community, design, user_admins, verdict):
    members = add_members(design, 40)
    grant(members[:user_admins], design, Role.GUIDE)
    assert checks(design)["user_admins"][:2] == (user_admins, verdict)


def test_too_many_leads_and_core_admins_are_over(community, design):
    members = add_members(design, 20)
    grant(members[:2], community.hub, Role.OWNER)
    grant(members[2:7], design, Role.CORE_ADMIN)
    result = checks(design)
    assert result["lead"][1:] == ("over", "2 leads where 1 is clearer: 1 owner more than needed.")
    assert result["core"][1:] == ("over", "2 core admins more than the 3 of a healthy team.")


def test_the_hub_counts_the_whole_community(community, hub, design, photo, coders):
    hub_members = add_members(hub, 100)
    grant(hub_members[:1], hub, Role.OWNER)
    grant(add_members(photo, 1), photo, Role.ADMIN)
    grant(add_members(coders, 1), coders, Role.GUIDE)
    shape = selectors.team_shape(group=hub)
    assert shape.members == 102
    user_admins = shape.checks[2]
    assert (user_admins.have, user_admins.verdict) == (2, "under")
    assert "about 8 more user admins" in user_admins.sentence


def test_members_who_left_do_not_count(community, design):
    from members.models import Membership

    members = add_members(design, 10)
    grant(members[:1], design, Role.GUIDE)
    for membership in Membership.objects.filter(member__in=members[5:]):
        people.membership_end(membership=membership)
    shape = selectors.team_shape(group=design)
    assert shape.members == 5 and shape.checks[2].verdict == "over"
