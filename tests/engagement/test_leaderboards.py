# ruff: noqa: F811 - pytest fixtures are imported, then named as arguments
"""Leaderboards: members of a group by points in a calendar week or month, and sibling groups
by health, then activity."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import GroupDay, MemberDay
from engagement import leaderboards as boards
from members.models import PointsEntry
from tests.factories import add_members
from tests.personas import (  # noqa: F401 - fixtures
    coders,
    design,
    owner,
    page_client,
    photo,
    subtree_admin,
)

pytestmark = pytest.mark.django_db

# A Wednesday: its week runs Monday 2026-11-16 to Sunday 2026-11-22.
TODAY = date(2026, 11, 18)


def points(member, amount: int, when: datetime, reason: str = "check_in") -> PointsEntry:
    return PointsEntry.objects.create(
        community_id=member.community_id, member=member, amount=amount, reason=reason, created_at=when
    )


def day_row(member, group, day: date, *, messages: int = 0, check_ins: int = 0) -> MemberDay:
    return MemberDay.objects.create(
        community_id=member.community_id,
        member=member,
        group=group,
        day=day,
        messages=messages,
        check_ins=check_ins,
        events=messages + check_ins,
        last_at=timezone.now(),
    )


def local_noon(community, day: date) -> datetime:
    window = boards.window_for(community, period="week", today=day)
    return window.start + timedelta(days=(day - window.first).days, hours=12)


class TestWindows:
    def test_a_week_runs_monday_to_sunday_in_the_communitys_time(self, community):
        window = boards.window_for(community, period="week", today=TODAY)
        assert (window.first, window.last, window.days) == (date(2026, 11, 16), date(2026, 11, 22), 7)
        assert window.start.utcoffset() == timedelta(hours=8)  # Asia/Shanghai midnight, not UTC

    def test_the_previous_month_of_january_is_december(self, community):
        window = boards.window_for(community, period="month", which="previous", today=date(2026, 1, 9))
        assert (window.first, window.last) == (date(2025, 12, 1), date(2025, 12, 31))

    def test_an_unknown_period_is_refused(self, community):
        with pytest.raises(ValueError, match="period"):
            boards.window_for(community, period="year")


class TestMemberLeaderboard:
    def test_it_ranks_the_subtree_by_points_earned_in_the_window(self, community, design, photo, coders):
        alice, bob, carol = add_members(photo, 3)
        (dave,) = add_members(coders, 1)
        week = boards.window_for(community, period="week", today=TODAY)
        points(alice, 30, local_noon(community, date(2026, 11, 16)))
        points(bob, 50, local_noon(community, date(2026, 11, 17)))
        points(bob, -40, local_noon(community, date(2026, 11, 17)), reason="redeem")  # a spend isn't a loss here
        points(carol, 90, local_noon(community, date(2026, 11, 15)))  # Sunday before: last week
        points(dave, 500, local_noon(community, date(2026, 11, 17)))  # another subtree
        day_row(carol, photo, date(2026, 11, 18), messages=4)

        rows = boards.member_leaderboard(group=design, window=week)

        assert [(row.name, row.points, row.messages, row.rank) for row in rows] == [
            (bob.display_name, 50, 0, 1),
            (alice.display_name, 30, 0, 2),
            (carol.display_name, 0, 4, 3),
        ]

    def test_equal_scores_share_a_place_and_the_next_place_skips(self, community, coders):
        members = add_members(coders, 4)
        week = boards.window_for(community, period="week", today=TODAY)
        for member, amount in zip(members, (20, 20, 20, 5), strict=True):
            points(member, amount, local_noon(community, TODAY))
        assert [row.rank for row in boards.member_leaderboard(group=coders, window=week)] == [1, 1, 1, 4]

    def test_a_member_who_left_is_not_on_the_board(self, community, coders):
        from members.services import people

        stayer, leaver = add_members(coders, 2)
        for member in (stayer, leaver):
            points(member, 10, local_noon(community, TODAY))
        people.membership_end(membership=leaver.memberships.get())
        week = boards.window_for(community, period="week", today=TODAY)
        assert [row.member_id for row in boards.member_leaderboard(group=coders, window=week)] == [stayer.pk]

    def test_the_board_takes_a_fixed_number_of_queries(self, community, coders, django_assert_max_num_queries):
        members = add_members(coders, 30)
        for index, member in enumerate(members):
            points(member, index + 1, local_noon(community, TODAY))
            day_row(member, coders, TODAY, messages=index)
        week = boards.window_for(community, period="week", today=TODAY)
        with django_assert_max_num_queries(5):
            rows = boards.member_leaderboard(group=coders, window=week)
        assert len(rows) == 30 and rows[0].points == 30


class TestSiblingRanking:
    def grade(self, group, grade: str, messages_per_member: float, day: date = TODAY) -> None:
        GroupDay.objects.create(
            community_id=group.community_id,
            group=group,
            day=day,
            members=group.member_count,
            grade=grade,
            messages_per_member=messages_per_member,
            speaking_rate_week=0.3,
        )

    def test_health_comes_first_then_activity(self, community, design, coders):
        add_members(design, 4)
        add_members(coders, 4)
        self.grade(design, "B", 3.0)
        self.grade(coders, "A", 0.5)
        week = boards.window_for(community, period="week", today=TODAY)
        rows = boards.sibling_ranking(groups=[design, coders], window=week)
        assert [(row.group.name, row.rank, row.health_rank, row.activity_rank) for row in rows] == [
            (coders.name, 1, 1, 2),
            (design.name, 2, 2, 1),
        ]

    def test_points_and_check_ins_per_member_count_the_whole_subtree(self, community, design, photo, coders):
        (in_design,) = add_members(design, 1)
        (in_photo,) = add_members(photo, 1)
        (in_coders,) = add_members(coders, 1)
        week = boards.window_for(community, period="week", today=TODAY)
        points(in_photo, 40, local_noon(community, TODAY))
        points(in_coders, 10, local_noon(community, TODAY))
        day_row(in_photo, photo, TODAY, check_ins=1)
        rows = {row.group.pk: row for row in boards.sibling_ranking(groups=[design, coders], window=week)}
        assert rows[design.pk].points_per_member == pytest.approx(20.0)  # 40 points over its 2 members
        assert rows[design.pk].check_in_rate == pytest.approx(1 / (2 * 7))
        assert rows[coders.pk].points_per_member == pytest.approx(10.0)
        assert in_design.pk  # counted among design's members

    def test_the_siblings_are_the_ones_the_viewer_may_see(self, community, design, coders, owner, subtree_admin):
        from analytics.selectors import visible_groups

        mine = boards.sibling_groups(design, visible_groups(subtree_admin, community))
        assert [group.pk for group in mine] == [design.pk]
        everything = boards.sibling_groups(design, visible_groups(owner, community))
        assert {group.pk for group in everything} == {design.pk, coders.pk}
        hub_children = boards.sibling_groups(community.hub, visible_groups(owner, community))
        assert {group.pk for group in hub_children} == {design.pk, coders.pk}


class TestPage:
    def test_the_owner_sees_members_and_siblings(self, community, design, coders, owner):
        (member,) = add_members(coders, 1)
        points(member, 25, timezone.now())
        response = page_client(owner).get(
            reverse("engagement:leaderboards", args=[community.slug]), {"group": coders.pk}
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert member.display_name in body and 'id="sibling-ranking"' in body
        assert design.name in body  # its sibling

    def test_exports_are_spreadsheets(self, community, coders, owner):
        (member,) = add_members(coders, 1)
        points(member, 25, timezone.now())
        url = reverse("engagement:leaderboards", args=[community.slug])
        csv = page_client(owner).get(url, {"group": coders.pk, "export": "csv"})
        assert csv.status_code == 200 and member.display_name in csv.content.decode("utf-8-sig")
        xlsx = page_client(owner).get(url, {"group": coders.pk, "export": "xlsx", "table": "siblings"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    def test_a_group_the_viewer_cannot_see_is_404(self, community, design, coders, subtree_admin):
        url = reverse("engagement:leaderboards", args=[community.slug])
        assert page_client(subtree_admin).get(url, {"group": coders.pk}).status_code == 404
        assert page_client(subtree_admin).get(url, {"group": design.pk}).status_code == 200

    def test_outsiders_get_404(self, community, outsider):
        url = reverse("engagement:leaderboards", args=[community.slug])
        assert page_client(outsider).get(url).status_code == 404

    def test_bad_parameters_fall_back_instead_of_failing(self, community, owner):
        url = reverse("engagement:leaderboards", args=[community.slug])
        response = page_client(owner).get(url, {"period": "decade", "which": "x", "group": "abc"})
        assert response.status_code == 200 and response.context["period"] == "week"


class TestRefundsAndApi:
    def test_a_refund_is_not_earning(self, community, coders):
        (member,) = add_members(coders, 1)
        points(member, 10, local_noon(community, TODAY))
        points(member, 30, local_noon(community, TODAY), reason="refund")
        week = boards.window_for(community, period="week", today=TODAY)
        assert [row.points for row in boards.member_leaderboard(group=coders, window=week)] == [10]

    def test_bots_read_the_board_of_a_group_they_may_see(self, community, coders, design, subtree_admin, owner):
        from tests.personas import api_client

        (member,) = add_members(coders, 1)
        points(member, 15, timezone.now())
        url = reverse("api-leaderboard", args=[coders.pk])
        body = api_client(owner).get(url, {"period": "month"}).json()
        assert body["group"] == coders.pk and body["window"]["period"] == "month"
        assert [(row["member"], row["points"], row["rank"]) for row in body["rows"]] == [(member.pk, 15, 1)]
        assert api_client(subtree_admin).get(url).status_code == 404
        bad = api_client(owner).get(url, {"period": "year", "limit": "0"})
        assert bad.status_code == 400 and "period" in bad.json()["extra"]["fields"]
        ranking = api_client(owner).get(reverse("api-sibling-ranking", args=[coders.pk])).json()
        assert {row["group"] for row in ranking["rows"]} == {coders.pk, design.pk}
