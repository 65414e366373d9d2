"""Who gets what on the admin programme's pages and endpoints.

Personas as in tests/members/test_permission_matrix.py: the owner; an admin of 设计美学交流群
(whose subtree holds 摄影群); an admin of the sibling 程序员技术群; a plain member of 设计美学交流群
with a login; an outsider who owns another community; an anonymous visitor. The world: an open
round on 设计美学交流群 with a nominee from 摄影群, and last month's posts by two plain members.
"""

from __future__ import annotations

from copy import deepcopy

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.services.metrics import local_today
from members.models import Membership, Role
from members.services import people
from programme import selectors, services
from programme.models import VotingRound
from tests.conftest import settled
from tests.factories import UserFactory
from tests.personas import api_client, page_client
from tests.programme.conftest import member_in, online, posting

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401


@pytest.fixture(scope="module")
def built(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, design, photo = shared.community, shared.groups["设计美学交流群"], shared.groups["摄影群"]
    nominee = member_in(photo, "候选人")
    for monday in selectors.complete_weeks(community):
        online(nominee, photo, monday, 16)
    voting_round = services.round_create(group=design, min_votes=5)
    voter = member_in(design, "投票人")
    last_month = selectors.previous_month(local_today(community))
    for name, count in (("话多", 30), ("偶尔", 5)):
        posting(member_in(design, name), design, last_month.replace(day=3), messages=count)
    result = {
        "slug": community.slug,
        "design": design.pk,
        "photo": photo.pk,
        "round": voting_round.pk,
        "nomination": voting_round.nominations.get().pk,
        "nominee": nominee.pk,
        "voter": voter.pk,
        "month": f"{last_month:%Y-%m}",
    }
    return settled(result)


@pytest.fixture
def world(built):
    return deepcopy(built)


def as_persona(name: str, personas, *, api: bool):
    if name == "anonymous":
        return APIClient() if api else Client()
    return api_client(personas[name]) if api else page_client(personas[name])


MINE = {"owner": 200, "subtree_admin": 200}
ACTS = {"owner": 302, "subtree_admin": 302}
PAGES = [
    # (method, url name, args, query or data, {persona: status}); others get 404 (anonymous: login)
    ("get", "programme:overview", (), None, {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}),
    ("get", "programme:overview", (), {"group": "{design}"}, MINE),
    ("get", "programme:overview", (), {"group": "{photo}"}, MINE),
    ("post", "programme:round_create", ("photo",), {"month": "{month}", "days": 7, "threshold_hours": 15,
                                                    "threshold_recognition": 80, "min_votes": 5}, ACTS),
    ("post", "programme:round_close", ("round",), {}, ACTS),
    ("post", "programme:appoint", ("nomination",), {}, ACTS),
    ("post", "programme:assess", ("design",), {"month": "{month}"}, ACTS),
    ("post", "programme:rotate", ("design",), {"month": "{month}", "top": 1}, ACTS),
]  # fmt: skip


def _fill(data, world):
    return {key: str(value).format(**world) for key, value in data.items()} if data else data


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "name", "args", "data", "expected"), PAGES, ids=[f"{p[0]} {p[1]}" for p in PAGES])
def test_pages(world, personas, persona, method, name, args, data, expected):
    url = reverse(name, args=[world["slug"], *(world[arg] for arg in args)])
    client = as_persona(persona, personas, api=False)
    response = getattr(client, method)(url, _fill(data, world)) if data is not None else client.get(url)
    want = expected.get(persona, LOGIN if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {url}: {response.content[:300]}"


def test_pages_write_only_when_allowed(world, personas, design):
    """A refused write leaves everything as it was; an allowed one does what it says."""
    for persona in ("sibling_admin", "member", "outsider"):
        client = as_persona(persona, personas, api=False)
        client.post(reverse("programme:rotate", args=[world["slug"], design.pk]), {"month": world["month"], "top": 1})
        client.post(reverse("programme:round_close", args=[world["slug"], world["round"]]))
    assert not Membership.objects.filter(group=design, role=Role.GUIDE).exists()
    assert VotingRound.objects.get(pk=world["round"]).status == "open"
    page_client(personas["subtree_admin"]).post(
        reverse("programme:rotate", args=[world["slug"], design.pk]), {"month": world["month"], "top": 1}
    )
    assert list(
        Membership.objects.filter(group=design, role=Role.GUIDE).values_list("member__display_name", flat=True)
    ) == ["话多"]


def test_a_guide_sees_the_programme_but_does_not_act(world, design):
    guide = UserFactory(username="guide")
    people.role_grant(member=member_in(design, "引导员", user=guide), group=design, role=Role.GUIDE)
    client = page_client(guide)
    assert client.get(reverse("programme:overview", args=[world["slug"]]), {"group": design.pk}).status_code == 200
    assert (
        client.post(reverse("programme:assess", args=[world["slug"], design.pk]), {"month": world["month"]}).status_code
        == 403
    )
    assert client.post(reverse("programme:round_close", args=[world["slug"], world["round"]])).status_code == 403
    api = api_client(guide)
    assert (
        api.post(f"/api/v1/groups/{design.pk}/rotation/", {"month": world["month"]}, format="json").status_code == 403
    )


ENDPOINTS = [
    ("get", "/api/v1/groups/{design}/team-shape/", None, MINE),
    ("get", "/api/v1/groups/{photo}/online-hours/?weeks=4", None, MINE),
    ("get", "/api/v1/voting-rounds/{round}/", None, MINE),
    ("post", "/api/v1/voting-rounds/", {"group": "{photo}"}, {"owner": 201, "subtree_admin": 201}),
    ("post", "/api/v1/voting-rounds/{round}/votes/", {"voter": "{voter}", "nominee": "{nominee}", "approve": True},
     MINE),
    ("post", "/api/v1/voting-rounds/{round}/close/", {}, MINE),
    ("post", "/api/v1/voting-rounds/{round}/appoint/", {"nominee": "{nominee}"}, {"owner": 400, "subtree_admin": 400}),
    ("post", "/api/v1/groups/{design}/assessments/compute/", {"month": "{month}"}, MINE),
    ("post", "/api/v1/groups/{design}/rotation/", {"month": "{month}", "top": 1}, MINE),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    body = _fill(data, world)
    response = getattr(client, method)(target, body, format="json") if data is not None else client.get(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:300]}"


@pytest.mark.parametrize(
    ("persona", "sees"),
    [("owner", True), ("subtree_admin", True), ("sibling_admin", False), ("member", False), ("outsider", False)],
)
def test_the_round_list_shows_only_what_the_persona_may_see(world, personas, persona, sees):
    response = api_client(personas[persona]).get("/api/v1/voting-rounds/")
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert (world["round"] in ids) is sees


def test_the_picker_offers_only_visible_groups(world, personas):
    html = page_client(personas["subtree_admin"]).get(reverse("programme:overview", args=[world["slug"]])).content
    html = html.decode()
    assert "设计美学交流群" in html and "摄影群" in html and "程序员技术群" not in html
