"""Who gets what on the grouping pages and endpoints.

Personas as in tests/recall/test_permission_matrix.py: the owner; an admin of 设计美学交流群
(its subtree holds 摄影群); an admin of the sibling 程序员技术群; a plain member with a login; an
outsider who owns another community; an anonymous visitor. The survey's figures and the
suggestions are community-wide, so they need a role on the hub; changing them needs manage-tree
there. The member with recommendations is in 设计美学交流群.
"""

from __future__ import annotations

from copy import deepcopy

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from grouping.models import GroupSuggestion, MemberRecommendation, RecommendationRun, RunStatus
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import survey_for, survey_update
from tests.conftest import settled
from tests.grouping.conftest import answer, member_in, with_topic
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401
HUB = {"owner": 200}
SEES = {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}
FORBIDDEN = {"subtree_admin": 403, "sibling_admin": 403}


@pytest.fixture(scope="module")
def built(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, groups = shared.community, shared.groups
    design, photo, coders = groups["设计美学交流群"], groups["摄影群"], groups["程序员技术群"]
    survey = survey_for(community=community)
    survey_update(survey=survey, min_members=3)
    survey = with_topic(survey, "读书")
    for index in range(3):
        answer(survey, member_in(coders), ["读书"], admin="yes" if index == 0 else "no")
    suggestions_refresh(community=community)
    designer = member_in(design, name="设计师")
    run = RecommendationRun.objects.create(community=community, status=RunStatus.OK)
    MemberRecommendation.objects.create(run=run, member=designer, group=photo, score=0.9, rank=1)
    result = {
        "slug": community.slug,
        "community": community.pk,
        "suggestion": GroupSuggestion.objects.get().pk,
        "designer": designer.pk,
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
    ("get", "grouping:overview", (), None, {**HUB, **FORBIDDEN}),
    ("get", "grouping:survey_edit", (), None, {**HUB, **FORBIDDEN}),
    ("post", "grouping:survey_edit", (), {"title": ""}, {"owner": 400, **FORBIDDEN}),
    ("post", "grouping:threshold", (), {"min_members": "5"}, {"owner": 302, **FORBIDDEN}),
    ("post", "grouping:refresh", (), {}, {"owner": 302, **FORBIDDEN}),
    ("post", "grouping:retrain", (), {}, {"owner": 302, **FORBIDDEN}),
    ("post", "grouping:accept", ("suggestion",), {}, {"owner": 302, **FORBIDDEN}),
    ("post", "grouping:dismiss", ("suggestion",), {}, {"owner": 302, **FORBIDDEN}),
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
    ("get", "/api/v1/communities/{community}/needs-survey/", None, SEES),
    ("put", "/api/v1/communities/{community}/needs-survey/", {"is_open": False}, {**HUB, **FORBIDDEN}),
    ("get", "/api/v1/communities/{community}/needs-survey/pivot/", None, {**HUB, **FORBIDDEN}),
    ("get", "/api/v1/group-suggestions/{suggestion}/", None, HUB),
    ("post", "/api/v1/group-suggestions/{suggestion}/accept/", {}, {"owner": 201}),
    ("post", "/api/v1/group-suggestions/{suggestion}/dismiss/", {}, HUB),
    ("get", "/api/v1/members/{designer}/recommendations/", None, {"owner": 200, "subtree_admin": 200}),
    ("get", "/api/v1/communities/{community}/recommendations/", None, {**HUB, **FORBIDDEN}),
    ("post", "/api/v1/communities/{community}/recommendations/retrain/", {}, {"owner": 202, **FORBIDDEN}),
    (
        "post",
        "/api/v1/needs-survey/responses/",
        {"community": "{community}", "member": "{designer}",
         "answers": {"topics": ["摄影"], "size": "lt50", "frequency": "daily", "admin": "no"}},
        {"owner": 201, "subtree_admin": 201},
    ),
]  # fmt: skip


def _fill(value, world):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world[value[1:-1]]
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected, eager_tasks):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    body = _fill(data, world)
    response = getattr(client, method)(target, body, format="json") if data is not None else client.get(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:200]}"


def test_suggestion_lists_are_scoped_to_the_hub(world, personas):
    owner = api_client(personas["owner"]).get(f"/api/v1/group-suggestions/?community={world['community']}")
    assert [item["id"] for item in owner.json()["results"]] == [world["suggestion"]]
    for persona in ("subtree_admin", "sibling_admin", "outsider"):
        listed = api_client(personas[persona]).get("/api/v1/group-suggestions/")
        assert listed.status_code == 200 and listed.json()["results"] == [], persona
