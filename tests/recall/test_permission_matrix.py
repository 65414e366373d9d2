"""Who gets what on the recall pages and endpoints.

Personas as in tests/members/test_permission_matrix.py: the owner; an admin of 设计美学交流群
(whose subtree holds 摄影群; admins see recall but do not run it); an admin of the sibling
程序员技术群; a plain member with a login; an outsider who owns another community; an anonymous
visitor. The attempt, its phone task and the exit questionnaire belong to a member of 摄影群.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from members.services import people
from recall.models import Channel, ExitSurvey, RecallAttempt
from recall.services import dispatch
from recall.services.engine import recall_run
from recall.services.policies import policy_default
from tests.conftest import settled
from tests.personas import api_client, page_client
from tests.recall.conftest import at_day, local, silent_member

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401
ALL = {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}
MINE = {"owner": 200, "subtree_admin": 200}
RUNS = {"owner": 200, "subtree_admin": 403, "sibling_admin": 403}


@pytest.fixture(scope="module")
def built(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, photo = shared.community, shared.groups["摄影群"]
    policy = policy_default(community=community)
    quiet_since = local(timezone.now() - timedelta(days=120), 12)
    member = silent_member(photo, quiet_since, name="摄影师")
    for day in (30, 37, 60):
        recall_run(community=community, now=at_day(quiet_since, day))
        dispatch.attempts_dispatch(community_id=community.pk, now=at_day(quiet_since, day))
    leaver = silent_member(photo, quiet_since, name="离开的人")
    people.membership_end(membership=leaver.memberships.get())
    recall_run(community=community, now=timezone.now() + timedelta(minutes=1))
    result = {
        "slug": community.slug,
        "community": community.pk,
        "call": RecallAttempt.objects.get(member=member, channel=Channel.PHONE).pk,
        "policy": policy.pk,
        "stage": policy.stages.first().pk,
        "pool": policy.stages.get(position=1).coupon_pool_id,
        "survey": ExitSurvey.objects.get(member=leaver).pk,
    }
    return settled(result)


@pytest.fixture
def world(built):
    return deepcopy(built)


def as_persona(name: str, personas, *, api: bool):
    if name == "anonymous":
        return APIClient() if api else Client()
    return api_client(personas[name]) if api else page_client(personas[name])


PAGES = [
    # (method, url name, args, data, {persona: status})
    ("get", "recall:overview", (), None, ALL),
    ("get", "recall:calls", (), None, ALL),
    ("get", "recall:attempts", (), None, ALL),
    ("get", "recall:exits", (), None, ALL),
    ("get", "recall:policies", (), None, ALL),
    ("get", "recall:policy", ("policy",), None, ALL),
    ("get", "recall:stage", ("stage",), None, RUNS),
    ("get", "recall:pool", ("pool",), None, RUNS),
    ("post", "recall:run", (), {}, {"owner": 302, "subtree_admin": 403, "sibling_admin": 403}),
    ("post", "recall:policies", (), {"form": "default"}, {"owner": 302, "subtree_admin": 403, "sibling_admin": 403}),
    ("post", "recall:call", ("call",), {"outcome": "x"}, {"owner": 400, "subtree_admin": 404, "sibling_admin": 404}),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "name", "args", "data", "expected"), PAGES, ids=[f"{p[0]} {p[1]}" for p in PAGES])
def test_pages(world, personas, persona, method, name, args, data, expected, eager_tasks):
    url = reverse(name, args=[world["slug"], *(world[arg] for arg in args)])
    client = as_persona(persona, personas, api=False)
    response = getattr(client, method)(url, data) if data is not None else client.get(url)
    want = expected.get(persona, LOGIN if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {url}"


ENDPOINTS = [
    ("get", "/api/v1/recall/funnel/?community={community}", None, ALL),
    ("get", "/api/v1/recall/attempts/{call}/", None, MINE),
    ("post", "/api/v1/recall/attempts/{call}/call/", {"outcome": "no_answer"}, {"owner": 200, "subtree_admin": 403}),
    ("post", "/api/v1/recall/attempts/{call}/opened/", {}, MINE),
    ("get", "/api/v1/recall/policies/{policy}/", None, ALL),
    ("patch", "/api/v1/recall/policies/{policy}/", {"monthly_cap": 3}, RUNS),
    ("patch", "/api/v1/recall/stages/{stage}/", {"wait_days": 5}, RUNS),
    ("get", "/api/v1/exit-surveys/{survey}/", None, MINE),
    ("post", "/api/v1/exit-surveys/{survey}/answer/", {"reasons": ["few_benefits"]}, MINE),
    ("get", "/api/v1/exit-surveys/report/?community={community}", None, ALL),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    response = getattr(client, method)(target, data, format="json") if data is not None else client.get(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:200]}"
