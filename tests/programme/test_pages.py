"""The admin programme's dashboard page and the members' voting page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from analytics.services.metrics import local_today
from engagement.services.passes import member_pass
from members.models import AdminAssessment, Membership, Role
from members.services import people
from members.services.program import assessment_record
from programme import selectors, services
from programme.models import PeerVote, VotingRound
from tests.personas import page_client
from tests.programme.conftest import member_in, online, posting

pytestmark = pytest.mark.django_db


def overview(client, community, **params):
    return client.get(reverse("programme:overview", args=[community.slug]), params)


def weeks_online(member, group, hours: int) -> None:
    for monday in selectors.complete_weeks(group.community):
        online(member, group, monday, hours)


@pytest.fixture
def last_month(community):
    return selectors.previous_month(local_today(community))


class TestOverview:
    def test_it_shows_the_team_shape_hours_candidates_assessments_and_rotation(
        self, community, design, owner, last_month
    ):
        keen, steady = member_in(design, "积极分子"), member_in(design, "稳定成员")
        weeks_online(keen, design, 18)
        weeks_online(steady, design, 6)
        admin = member_in(design, "管理员甲")
        people.role_grant(member=admin, group=design, role=Role.ADMIN)
        assessment_record(member=admin, group=design, month=last_month, activity_score=70, dispute_score=60, by=owner)
        posting(steady, design, last_month.replace(day=2), messages=12, replies=3)
        html = overview(page_client(owner), community, group=design.pk).content.decode()
        assert 'href="/c/internet/growth/admins/" aria-current="page"' in html  # the growth tabs
        assert 'data-check="core" data-verdict="under"' in html and "3 more core admins needed." in html
        bars = re.findall(r'<li data-member="(\d+)">', html)
        assert bars[:2] == [str(keen.pk), str(steady.pk)]
        assert "1 member without a role reaches 15 h a week now." in html and "积极分子 (18.0 h)" in html
        assert "by hand (owner)" in html
        assert f'<tr data-member="{steady.pk}"><td>1</td><td>稳定成员</td><td class="num">12</td>' in html
        assert "Open the round" in html and "Rotate" in html

    def test_the_default_group_is_the_hub_or_the_first_the_user_sees(self, community, design, owner, subtree_admin):
        assert overview(page_client(owner), community).context["group"].pk == community.hub_id
        assert overview(page_client(subtree_admin), community).context["group"] == design

    def test_unknown_or_invisible_groups_are_404(self, community, coders, subtree_admin):
        client = page_client(subtree_admin)
        assert overview(client, community, group=coders.pk).status_code == 404
        assert overview(client, community, group="abc").status_code == 404
        assert overview(client, community, group=999999).status_code == 404

    def test_a_round_shows_its_nominees_and_recognition(self, community, design, owner):
        nominee = member_in(design, "候选人")
        weeks_online(nominee, design, 20)
        voting_round = services.round_create(group=design, min_votes=2)
        nomination = voting_round.nominations.get()
        for voter in (member_in(design), member_in(design)):
            services.vote_cast(voting_round=voting_round, nominee=nomination, voter=voter, approve=True)
        html = overview(page_client(owner), community, group=design.pk).content.decode()
        assert f'data-nominee="{nominee.pk}" data-qualified="1"' in html
        assert "2 / 2" in html and "100%" in html and "Appoint admin" in html
        assert "Open the round" not in html  # one open round at a time


class TestActions:
    def test_opening_a_round_nominates(self, community, design, subtree_admin, last_month):
        nominee = member_in(design, "候选人")
        weeks_online(nominee, design, 10)
        response = page_client(subtree_admin).post(
            reverse("programme:round_create", args=[community.slug, design.pk]),
            {"month": f"{last_month:%Y-%m}", "days": 5, "threshold_hours": 8, "threshold_recognition": 75,
             "min_votes": 3, "note": "降低门槛试行"},
        )  # fmt: skip
        assert response.status_code == 302 and response["Location"].endswith(f"?group={design.pk}")
        voting_round = VotingRound.objects.get()
        assert (voting_round.threshold_recognition, voting_round.min_votes, voting_round.month) == (0.75, 3, last_month)
        assert voting_round.nominations.get().member == nominee

    def test_a_bad_round_form_is_shown_again_with_its_errors(self, community, design, subtree_admin):
        services.round_create(group=design)
        response = page_client(subtree_admin).post(
            reverse("programme:round_create", args=[community.slug, design.pk]),
            {"month": "2026-13", "days": 5, "threshold_hours": 15, "threshold_recognition": 80, "min_votes": 5},
        )
        assert response.status_code == 400 and VotingRound.objects.count() == 1

    def test_a_second_open_round_is_refused_on_the_form(self, community, design, subtree_admin, last_month):
        services.round_create(group=design)
        response = page_client(subtree_admin).post(
            reverse("programme:round_create", args=[community.slug, design.pk]),
            {"month": f"{last_month:%Y-%m}", "days": 5, "threshold_hours": 15, "threshold_recognition": 80,
             "min_votes": 5},
        )  # fmt: skip
        assert response.status_code == 400
        assert "This group already has an open round" in response.content.decode()

    def test_appointing_an_unqualified_nominee_says_why(self, community, design, subtree_admin):
        nominee = member_in(design, "候选人")
        weeks_online(nominee, design, 20)
        voting_round = services.round_create(group=design)
        client = page_client(subtree_admin)
        response = client.post(
            reverse("programme:appoint", args=[community.slug, voting_round.nominations.get().pk]), follow=True
        )
        assert "候选人 is not qualified: 0 of the 5 votes needed." in response.content.decode()
        assert Membership.objects.get(member=nominee, group=design).role == Role.MEMBER

    def test_computing_last_month(self, community, design, subtree_admin, last_month):
        guide = member_in(design, "引导员")
        people.role_grant(member=guide, group=design, role=Role.GUIDE)
        posting(guide, design, last_month.replace(day=5), messages=10)
        response = page_client(subtree_admin).post(
            reverse("programme:assess", args=[community.slug, design.pk]), {"month": f"{last_month:%Y-%m}"}
        )
        assert response.status_code == 302
        # The subtree admin is on the staff too (no posts: 0), the guide posted the most.
        scores = dict(
            AdminAssessment.objects.filter(month=last_month).values_list("member__display_name", "activity_score")
        )
        assert scores == {"引导员": 100, "subtree_admin": 0}

    def test_rotating_from_the_page(self, community, design, subtree_admin, last_month):
        active = member_in(design, "活跃")
        posting(active, design, last_month.replace(day=9), messages=25)
        response = page_client(subtree_admin).post(
            reverse("programme:rotate", args=[community.slug, design.pk]), {"month": f"{last_month:%Y-%m}", "top": 3}
        )
        assert response.status_code == 302
        assert Membership.objects.get(member=active, group=design).role == Role.GUIDE

    def test_rotating_a_month_nobody_posted_in_shows_why(self, community, design, subtree_admin, last_month):
        response = page_client(subtree_admin).post(
            reverse("programme:rotate", args=[community.slug, design.pk]), {"month": f"{last_month:%Y-%m}", "top": 3}
        )
        assert response.status_code == 400 and "nobody to rotate in" in response.content.decode()

    def test_the_team_page_links_here(self, community, design, owner):
        html = page_client(owner).get(reverse("members:team", args=[community.slug, design.pk])).content.decode()
        assert f'href="/c/internet/growth/admins/?group={design.pk}"' in html
        assert "Messages this month" not in html  # the old typed-in counts are gone


@pytest.fixture
def ballot(community, design, photo):
    nominee = member_in(design, "候选人")
    weeks_online(nominee, design, 20)
    voting_round = services.round_create(group=design, min_votes=1)
    voter = member_in(photo, "摄影群的人")
    return voting_round, nominee, voter


def vote_url(member) -> str:
    return reverse("programme:vote", args=[member_pass(member=member).token])


class TestVotePage:
    def test_a_member_sees_the_open_rounds_of_their_groups_and_votes(self, ballot):
        voting_round, nominee, voter = ballot
        client = Client()
        html = client.get(vote_url(voter)).content.decode()
        assert "设计美学交流群" in html and f'data-nominee="{nominee.pk}"' in html
        nomination = voting_round.nominations.get()
        response = client.post(vote_url(voter), {"round": voting_round.pk, "nominee": nomination.pk, "approve": "1"})
        assert response.status_code == 302
        assert PeerVote.objects.get().approve is True
        assert "You approve" in client.get(vote_url(voter)).content.decode()
        client.post(vote_url(voter), {"round": voting_round.pk, "nominee": nomination.pk, "approve": "0"})
        assert list(PeerVote.objects.values_list("approve", flat=True)) == [False]

    def test_the_nominee_does_not_see_themselves(self, ballot):
        _round, nominee, _voter = ballot
        html = Client().get(vote_url(nominee)).content.decode()
        assert f'data-nominee="{nominee.pk}"' not in html and "Nobody to vote on here." in html

    def test_members_of_other_groups_see_no_round(self, ballot, coders):
        assert "No vote is open in your groups" in Client().get(vote_url(member_in(coders))).content.decode()

    def test_a_closed_round_is_gone_and_cannot_be_voted_in(self, ballot):
        voting_round, _nominee, voter = ballot
        services.round_close(voting_round=voting_round)
        client = Client()
        assert "No vote is open in your groups" in client.get(vote_url(voter)).content.decode()
        response = client.post(
            vote_url(voter), {"round": voting_round.pk, "nominee": voting_round.nominations.get().pk, "approve": "1"}
        )
        assert response.status_code == 404 and not PeerVote.objects.exists()

    def test_a_forged_form_is_404(self, ballot):
        voting_round, _nominee, voter = ballot
        client = Client()
        assert client.post(vote_url(voter), {"round": "x", "nominee": "1", "approve": "1"}).status_code == 404
        assert client.post(vote_url(voter), {"round": voting_round.pk, "nominee": 999999}).status_code == 404

    def test_an_unknown_link_is_404(self, db):
        assert Client().get(reverse("programme:vote", args=["not-a-real-token"])).status_code == 404

    def test_posting_needs_the_csrf_token(self, ballot):
        voting_round, _nominee, voter = ballot
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            vote_url(voter), {"round": voting_round.pk, "nominee": voting_round.nominations.get().pk, "approve": "1"}
        )
        assert response.status_code == 403 and not PeerVote.objects.exists()
