"""Who gets what on the engagement pages and endpoints.

Personas as in tests/recall/test_permission_matrix.py: the owner; an admin of 设计美学交流群 (whose
subtree holds 摄影群, where 小爱 is); an admin of the sibling 程序员技术群 (where 小波 is); a plain
member with a login; an outsider who owns another community; an anonymous visitor. Admins
see and handle their own members but change no community-wide setting (that needs manage-tree
on the hub)."""

from __future__ import annotations

from copy import deepcopy

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from engagement.services.organised import organised_event_record
from engagement.services.shop import reward_redeem, reward_save
from tests.conftest import settled
from tests.engagement.conftest import grant, member_in
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401
ALL = {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}
MINE = {"owner": 200, "subtree_admin": 200}
MANAGERS = {"owner": 302, "subtree_admin": 403, "sibling_admin": 403}


@pytest.fixture(scope="module")
def built(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, photo = shared.community, shared.groups["摄影群"]
    alice = member_in(photo, "小爱", platform_id="wx-alice")
    bob = member_in(shared.groups["程序员技术群"], "小波", platform_id="wx-bob")
    grant(alice, 1000)
    grant(bob, 1000)
    item = reward_save(community=community, name="贴纸", cost=10)
    event = organised_event_record(group=photo, organiser=alice, title="外拍", held_on=timezone.localdate()).event
    result = {
        "slug": community.slug,
        "community": community.pk,
        "alice": alice.pk,
        "photo": photo.pk,
        "item": item.pk,
        "mine": reward_redeem(member=alice, item=item).pk,
        "theirs": reward_redeem(member=bob, item=item).pk,
        "event": event.pk,
        "today": timezone.localdate().isoformat(),
    }
    return settled(result)


@pytest.fixture
def world(built):
    return deepcopy(built)


def as_persona(name: str, personas, *, api: bool):
    if name == "anonymous":
        return APIClient() if api else Client()
    return api_client(personas[name]) if api else page_client(personas[name])


RULES = {"check_in": 5, "post": 10, "featured_post": 30, "invite_accepted": 20, "event_organised": 50,
         "streak_days": 7, "streak_bonus": 30}  # fmt: skip

PAGES = [
    # (method, url name, args, data, {persona: status})
    ("get", "engagement:overview", (), None, ALL),
    ("get", "engagement:members", (), None, ALL),
    ("get", "engagement:member", ("alice",), None, MINE),
    ("get", "engagement:shop", (), None, ALL),
    ("get", "engagement:item", ("item",), None, ALL),
    ("get", "engagement:rules", (), None, ALL),
    ("get", "engagement:events", (), None, ALL),
    ("post", "engagement:sweep", (), {}, MANAGERS),
    ("post", "engagement:shop", (), {"name": "新奖品", "cost": "5", "requires_streak": "0"}, MANAGERS),
    ("post", "engagement:item", ("item",), {"name": "贴纸", "cost": "5", "requires_streak": "0"}, MANAGERS),
    ("post", "engagement:rules", (), {"form": "rules", **RULES}, MANAGERS),
    ("post", "engagement:redemption", ("mine",), {"action": "fulfil"}, {"owner": 302, "subtree_admin": 302}),
    (
        "post", "engagement:events", (),
        {"group": "{photo}", "organiser": "{alice}", "title": "夜拍", "held_on": "{today}", "attendees": "3"},
        {"owner": 302, "subtree_admin": 302, "sibling_admin": 400},
    ),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "name", "args", "data", "expected"), PAGES, ids=[f"{p[0]} {p[1]}" for p in PAGES])
def test_pages(world, personas, persona, method, name, args, data, expected, eager_tasks):
    url = reverse(name, args=[world["slug"], *(world[arg] for arg in args)])
    client = as_persona(persona, personas, api=False)
    if data is not None:
        data = {key: value.format(**world) if isinstance(value, str) else value for key, value in data.items()}
    response = getattr(client, method)(url, data) if data is not None else client.get(url)
    want = expected.get(persona, LOGIN if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {url}"


ENDPOINTS = [
    ("get", "/api/v1/members/{alice}/points/", None, MINE),
    ("post", "/api/v1/check-ins/", {"member": "{alice}"}, {"owner": 201, "subtree_admin": 201}),
    ("get", "/api/v1/rewards/{item}/", None, ALL),
    ("patch", "/api/v1/rewards/{item}/", {"stock": 3}, {"owner": 200, "subtree_admin": 403, "sibling_admin": 403}),
    ("post", "/api/v1/rewards/{item}/redeem/", {"member": "{alice}"}, {"owner": 201, "subtree_admin": 201}),
    ("get", "/api/v1/redemptions/{mine}/", None, MINE),
    ("post", "/api/v1/redemptions/{mine}/fulfil/", {}, MINE),
    ("post", "/api/v1/redemptions/{theirs}/cancel/", {}, {"owner": 200, "sibling_admin": 200}),
    ("get", "/api/v1/organised-events/{event}/", None, MINE),
    ("get", "/api/v1/communities/{community}/points-rules/", None, ALL),
    ("put", "/api/v1/communities/{community}/points-rules/", RULES, {"owner": 200, "subtree_admin": 403,
                                                                     "sibling_admin": 403}),
    ("get", "/api/v1/communities/{community}/levels/", None, ALL),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    if data is not None:
        data = {key: int(value.format(**world)) if isinstance(value, str) else value for key, value in data.items()}
    response = getattr(client, method)(target, data, format="json") if data is not None else client.get(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:200]}"
