"""Who gets what on the lifecycle pages and endpoints.

Personas as in tests/recall/test_permission_matrix.py: the owner; an admin of 设计美学交流群 and an
admin of its sibling 程序员技术群 (they see the community, but not the lifecycle groups under the
hub, and do not manage rules); a plain member with a login; an outsider who owns another
community; an anonymous visitor. The move, the member and the date belong to the exam-prep stages.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lifecycle.models import LifecycleMove, TriggerKind
from lifecycle.services.dates import member_date_set
from lifecycle.services.engine import lifecycle_run
from members.models import Role
from tests.conftest import settled
from tests.factories import staff_user
from tests.lifecycle.conftest import make_rule, make_stages, student
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401
ALL = {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}
OWNER = {"owner": 200}
RULES = {"owner": 200, "subtree_admin": 403, "sibling_admin": 403}
RULES_POST = {"owner": 302, "subtree_admin": 403, "sibling_admin": 403}
SET_DATE = {"action": "set", "date-member": "{member}", "date-label": "exam", "date-date": "2026-12-20"}


@pytest.fixture(scope="module")
def built(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community = shared.community
    stages = make_stages(community)
    rule = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    spare = make_rule(community, stages["sprint"], stages["alumni"], TriggerKind.POINTS, threshold=10)
    member = student(stages["newcomer"], joined=timezone.now() - timedelta(days=3), platform_id="qq-1")
    lifecycle_run(community=community)
    member_date, _created = member_date_set(member=member, label="exam", date=timezone.localdate())
    result = (
        stages,
        {
            "slug": community.slug,
            "community": community.pk,
            "rule": rule.pk,
            "spare": spare.pk,
            "move": LifecycleMove.objects.get().pk,
            "member": member.pk,
            "date": member_date.pk,
            "from": stages["newcomer"].pk,
            "to": stages["sprint"].pk,
        },
    )
    return settled(result)


@pytest.fixture
def stages(built):
    return deepcopy(built[0])


@pytest.fixture
def world(built):
    return deepcopy(built[1])


def as_persona(name: str, personas, *, api: bool):
    if name == "anonymous":
        return APIClient() if api else Client()
    return api_client(personas[name]) if api else page_client(personas[name])


PAGES = [
    # (method, url name, args, data, {persona: status})
    ("get", "lifecycle:rules", (), None, ALL),
    ("get", "lifecycle:rule", ("rule",), None, ALL),
    ("get", "lifecycle:history", (), None, ALL),
    ("get", "lifecycle:history", (), {"export": "csv"}, ALL),
    ("get", "lifecycle:dates", (), None, ALL),
    ("post", "lifecycle:rules", (), {"rule-name": "x"}, {"owner": 400, "subtree_admin": 403, "sibling_admin": 403}),
    ("post", "lifecycle:rule", ("spare",), {"action": "pause"}, RULES_POST),
    ("post", "lifecycle:run", (), {}, RULES_POST),
    # The admins manage members of their own groups, not of the exam stages: no such member for them.
    ("post", "lifecycle:dates", (), SET_DATE, {"owner": 302, "subtree_admin": 400, "sibling_admin": 400}),
    ("post", "lifecycle:dates", (), {"action": "remove", "id": "{date}"},
     {"owner": 302, "subtree_admin": 404, "sibling_admin": 404}),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "name", "args", "data", "expected"), PAGES, ids=[f"{p[0]} {p[1]}" for p in PAGES])
def test_pages(world, personas, persona, method, name, args, data, expected, eager_tasks):
    url = reverse(name, args=[world["slug"], *(world[arg] for arg in args)])
    client = as_persona(persona, personas, api=False)
    data = {key: str(value).format(**world) for key, value in (data or {}).items()} if data is not None else None
    response = getattr(client, method)(url, data) if data is not None else client.get(url)
    want = expected.get(persona, LOGIN if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {url}"


ENDPOINTS = [
    ("get", "/api/v1/lifecycle-rules/{rule}/", None, ALL),
    ("get", "/api/v1/lifecycle-rules/{rule}/preview/", None, ALL),
    ("patch", "/api/v1/lifecycle-rules/{spare}/", {"threshold": 20}, RULES),
    ("delete", "/api/v1/lifecycle-rules/{spare}/", None, {"owner": 204, "subtree_admin": 403, "sibling_admin": 403}),
    ("post", "/api/v1/communities/{community}/lifecycle/run/", {"dry_run": True}, RULES),
    ("get", "/api/v1/lifecycle-moves/{move}/", None, OWNER),
    ("get", "/api/v1/member-dates/{date}/", None, OWNER),
    ("patch", "/api/v1/member-dates/{date}/", {"date": "2027-01-01"}, OWNER),
    ("post", "/api/v1/member-dates/", {"community": "{community}", "member": "{member}", "date": "2027-01-02"}, OWNER),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    if data is not None:
        data = {key: value.format(**world) if isinstance(value, str) else value for key, value in data.items()}
        response = getattr(client, method)(target, data, format="json")
    else:
        response = getattr(client, method)(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:200]}"


def test_lists_are_scoped_to_what_each_persona_sees(world, personas, community, stages):
    owner_rules = api_client(personas["owner"]).get("/api/v1/lifecycle-rules/").json()["results"]
    assert {row["id"] for row in owner_rules} == {world["rule"], world["spare"]}
    assert api_client(personas["outsider"]).get("/api/v1/lifecycle-rules/").json()["results"] == []
    for persona in ("subtree_admin", "outsider"):
        client = api_client(personas[persona])
        assert client.get("/api/v1/lifecycle-moves/").json()["results"] == []
        assert client.get("/api/v1/member-dates/").json()["results"] == []
    preview = api_client(personas["subtree_admin"]).get(f"/api/v1/lifecycle-rules/{world['rule']}/preview/").json()
    assert preview["due"] == [] and preview["upcoming"] == []
    page = page_client(personas["subtree_admin"]).get(reverse("lifecycle:history", args=[community.slug]))
    assert page.context["page"].paginator.count == 0


def test_a_guide_sees_their_members_dates_but_does_not_change_them(world, community, stages):
    guide = staff_user("引导员", group=stages["intensive"], role=Role.GUIDE)
    client = api_client(guide)
    assert client.get(f"/api/v1/member-dates/{world['date']}/").status_code == 200
    body = {"community": community.pk, "member": world["member"], "date": "2027-01-02"}
    assert client.post("/api/v1/member-dates/", body, format="json").status_code == 403
    assert (
        client.patch(f"/api/v1/member-dates/{world['date']}/", {"date": "2027-01-02"}, format="json").status_code == 403
    )
    assert client.get(f"/api/v1/lifecycle-moves/{world['move']}/").status_code == 200
