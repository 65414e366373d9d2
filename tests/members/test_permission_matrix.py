"""Who gets what, page by page and endpoint by endpoint (as pretix does it).

Personas: the community's owner; an admin of 设计美学交流群 (whose subtree holds 摄影群); an
admin of the sibling 程序员技术群; a plain member with a login; an outsider who owns another
community; and an anonymous visitor. Objects: 摄影群, an application to it, a member in it, and
a live code under 设计美学交流群.
"""

from dataclasses import dataclass

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from members import services
from members.models import Role
from tests.conftest import settled
from tests.factories import MemberFactory
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")


@dataclass
class World:
    slug: str
    hub: int
    design: int
    photo: int
    application: int
    member: int
    membership: int
    code: int


@pytest.fixture(scope="module")
def world(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, design, photo = shared.community, shared.groups["设计美学交流群"], shared.groups["摄影群"]
    application = services.application_submit(group=photo, display_name="申请人", phone="13000000001")
    lin = MemberFactory(community=community, display_name="林嘉琪")
    membership = services.membership_add(member=lin, group=photo, source="manual")
    code = services.livecode_create(community=community, name="摄影活码", parent=design, attribute="摄影")
    result = World(
        community.slug, community.hub_id, design.pk, photo.pk, application.pk, lin.pk, membership.pk, code.pk
    )
    return settled(result)


def _anonymous():
    from django.test import Client

    return Client()


# (name, method, url builder, data, expected status per persona in PERSONAS order)
LOGIN = 302  # pages send anonymous visitors to the login page
PAGES = [
    ("overview", "get", lambda w: reverse("subgroups:overview", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    ("tree", "get", lambda w: reverse("subgroups:tree", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "hub page",
        "get",
        lambda w: reverse("subgroups:group", args=[w.slug, w.hub]),
        None,
        (200, 404, 404, 404, 404, LOGIN),
    ),
    (
        "photo page",
        "get",
        lambda w: reverse("subgroups:group", args=[w.slug, w.photo]),
        None,
        (200, 200, 404, 404, 404, LOGIN),
    ),
    ("settings", "get", lambda w: reverse("subgroups:settings", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "save settings",
        "post",
        lambda w: reverse("subgroups:settings", args=[w.slug]),
        {"time_zone": "Asia/Tokyo", "language": "en", "banned_name_words": "高级"},
        (302, 403, 403, 404, 404, LOGIN),
    ),
    (
        "archive photo",
        "post",
        lambda w: reverse("subgroups:group_archive", args=[w.slug, w.photo]),
        {},
        (302, 403, 404, 404, 404, LOGIN),
    ),
    (
        "rename photo",
        "post",
        lambda w: reverse("subgroups:group_rename", args=[w.slug, w.photo]),
        {"name": "摄影小组"},
        (302, 403, 404, 404, 404, LOGIN),
    ),
    ("queue", "get", lambda w: reverse("members:queue", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "application",
        "get",
        lambda w: reverse("members:application", args=[w.slug, w.application]),
        None,
        (200, 200, 404, 404, 404, LOGIN),
    ),
    (
        "approve",
        "post",
        lambda w: reverse("members:approve", args=[w.slug, w.application]),
        {},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    (
        "reject",
        "post",
        lambda w: reverse("members:reject", args=[w.slug, w.application]),
        {"reason": "不合适"},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("members", "get", lambda w: reverse("members:members", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "export",
        "get",
        lambda w: reverse("members:members_export", args=[w.slug]),
        None,
        (200, 200, 200, 404, 404, LOGIN),
    ),
    (
        "member",
        "get",
        lambda w: reverse("members:member", args=[w.slug, w.member]),
        None,
        (200, 200, 404, 404, 404, LOGIN),
    ),
    (
        "edit member",
        "post",
        lambda w: reverse("members:member", args=[w.slug, w.member]),
        {"display_name": "林", "purchase_count": 1},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    (
        "make guide",
        "post",
        lambda w: reverse("members:membership_add", args=[w.slug, w.member]),
        lambda w: {"group": w.photo, "role": Role.GUIDE},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    (
        "remove",
        "post",
        lambda w: reverse("members:membership_end", args=[w.slug, w.membership]),
        {},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("roles", "get", lambda w: reverse("members:roles", args=[w.slug]), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "live codes",
        "get",
        lambda w: reverse("members:livecodes", args=[w.slug]),
        None,
        (200, 200, 200, 404, 404, LOGIN),
    ),
    (
        "live code",
        "get",
        lambda w: reverse("members:livecode", args=[w.slug, w.code]),
        None,
        (200, 200, 404, 404, 404, LOGIN),
    ),
    (
        "switch off code",
        "post",
        lambda w: reverse("members:livecode", args=[w.slug, w.code]),
        {"is_active": "0"},
        (302, 403, 404, 404, 404, LOGIN),
    ),
    (
        "questionnaire",
        "get",
        lambda w: reverse("members:questionnaire", args=[w.slug, w.photo]),
        None,
        (200, 200, 404, 404, 404, LOGIN),
    ),
    (
        "add question",
        "post",
        lambda w: reverse("members:questionnaire", args=[w.slug, w.photo]),
        {"text": "为什么加入？", "kind": "text"},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("team", "get", lambda w: reverse("members:team", args=[w.slug, w.photo]), None, (200, 200, 404, 404, 404, LOGIN)),
    (
        "assign guide",
        "post",
        lambda w: reverse("members:guide_assign", args=[w.slug, w.photo]),
        {"who": "林嘉琪"},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    (
        "rotate guides",
        "post",
        lambda w: reverse("members:rotate", args=[w.slug, w.photo]),
        {"month": "2026-11", "top": 3, "counts": "林嘉琪, 5"},
        (302, 302, 404, 404, 404, LOGIN),
    ),
]

UNAUTHORISED = 401
API = [
    ("group", "get", lambda w: f"/api/v1/groups/{w.photo}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "rename group",
        "patch",
        lambda w: f"/api/v1/groups/{w.photo}/",
        {"name": "摄影小组"},
        (200, 403, 404, 404, 404, UNAUTHORISED),
    ),
    ("tree", "get", lambda w: f"/api/v1/groups/{w.design}/tree/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    ("member", "get", lambda w: f"/api/v1/members/{w.member}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "update member",
        "patch",
        lambda w: f"/api/v1/members/{w.member}/",
        {"city": "杭州"},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "membership",
        "get",
        lambda w: f"/api/v1/memberships/{w.membership}/",
        None,
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "end membership",
        "post",
        lambda w: f"/api/v1/memberships/{w.membership}/end/",
        {},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "application",
        "get",
        lambda w: f"/api/v1/applications/{w.application}/",
        None,
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "approve",
        "post",
        lambda w: f"/api/v1/applications/{w.application}/approve/",
        {},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "reject",
        "post",
        lambda w: f"/api/v1/applications/{w.application}/reject/",
        {"reason": "不合适"},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    ("live code", "get", lambda w: f"/api/v1/live-codes/{w.code}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "community",
        "get",
        lambda w: f"/api/v1/communities/{_community_id(w)}/",
        None,
        (200, 200, 200, 404, 404, UNAUTHORISED),
    ),
]


def _status(w: World):
    from members.models import Application

    return Application.objects.get(pk=w.application).status


def _photo(w: World):
    from subgroups.models import Group

    return Group.objects.get(pk=w.photo)


def _membership(w: World):
    from members.models import Membership

    membership = Membership.objects.get(pk=w.membership)
    return (membership.status, membership.role)


def _lin(w: World):
    from members.models import Member

    member = Member.objects.get(pk=w.member)
    return (member.display_name, member.city)


def _code_active(w: World):
    from members.models import LiveCode

    return LiveCode.objects.get(pk=w.code).is_active


def _questions(w: World):
    return _photo(w).questions.count()


def _staff(w: World):
    from members.models import Membership

    return sorted(Membership.objects.filter(group_id=w.photo).values_list("member__display_name", "role"))


EFFECTS = {
    "save settings": lambda w: (
        __import__("subgroups.models", fromlist=["Community"]).Community.objects.get(slug=w.slug).time_zone
    ),
    "archive photo": lambda w: _photo(w).status,
    "rename photo": lambda w: _photo(w).name,
    "approve": _status,
    "reject": _status,
    "edit member": _lin,
    "make guide": _membership,
    "remove": _membership,
    "switch off code": _code_active,
    "add question": _questions,
    "assign guide": _staff,
    "rename group": lambda w: _photo(w).name,
    "update member": _lin,
    "end membership": _membership,
}


def _community_id(world: World) -> int:
    from subgroups.models import Community

    return Community.objects.get(slug=world.slug).pk


def _cases(table):
    return [
        pytest.param(name, method, build, data, persona, expected[index], id=f"{name}-{persona}")
        for name, method, build, data, expected in table
        for index, persona in enumerate(PERSONAS)
    ]


def _assert_effect(name: str, world: World, before, allowed: bool) -> None:
    """A write happened exactly when the persona was allowed it (a refused write may still
    redirect, so the status alone proves nothing)."""
    if name not in EFFECTS:
        return
    after = EFFECTS[name](world)
    if allowed:
        assert after != before, (name, "should have changed", before)
    else:
        assert after == before, (name, "changed although refused", before, after)


@pytest.mark.parametrize(("name", "method", "build", "data", "persona", "expected"), _cases(PAGES))
def test_pages(world, personas, name, method, build, data, persona, expected):
    client = _anonymous() if persona == "anonymous" else page_client(personas[persona])
    data = data(world) if callable(data) else data
    before = EFFECTS[name](world) if name in EFFECTS else None
    response = (
        getattr(client, method)(build(world), data) if data is not None else getattr(client, method)(build(world))
    )
    assert response.status_code == expected, (name, persona, response.status_code)
    if expected == LOGIN and persona == "anonymous":
        assert response["Location"].startswith("/login/")
    _assert_effect(name, world, before, allowed=expected == 302 and persona != "anonymous")


@pytest.mark.parametrize(("name", "method", "build", "data", "persona", "expected"), _cases(API))
def test_api(world, personas, name, method, build, data, persona, expected):
    client = APIClient() if persona == "anonymous" else api_client(personas[persona])
    before = EFFECTS[name](world) if name in EFFECTS else None
    response = getattr(client, method)(build(world), data or {}, format="json")
    assert response.status_code == expected, (name, persona, response.status_code, response.content[:200])
    _assert_effect(name, world, before, allowed=expected in (200, 201))


# --- Lists: everyone gets 200, but sees only their part ---------------------------------------

LISTS = {
    "/api/v1/groups/": lambda w: {"摄影群"},
    "/api/v1/members/": lambda w: {"林嘉琪"},
    "/api/v1/applications/": lambda w: {"申请人"},
    "/api/v1/live-codes/": lambda w: {"摄影活码"},
}
SEES = {"owner": True, "subtree_admin": True, "sibling_admin": False, "member": False, "outsider": False}


def _names(body) -> set[str]:
    return {item.get("name") or item.get("display_name") for item in body["results"]}


@pytest.mark.parametrize("url", list(LISTS))
@pytest.mark.parametrize("persona", list(SEES))
def test_lists_show_only_what_the_persona_may_see(world, personas, url, persona):
    response = api_client(personas[persona]).get(url, {"page_size": 500})
    assert response.status_code == 200
    names = _names(response.json())
    expected = LISTS[url](world)
    assert expected <= names if SEES[persona] else not (expected & names), (persona, url, names)


def test_anonymous_lists_are_401(world):
    for url in LISTS:
        assert APIClient().get(url).status_code == 401


# --- The public endpoints need no login, and the integration ones do ---------------------------


def test_public_endpoints(world, personas, community, photo):
    anonymous = APIClient()
    questions = anonymous.get(f"/api/v1/public/groups/{community.slug}/{photo.slug}/questions/")
    assert questions.status_code == 200
    submitted = anonymous.post(
        "/api/v1/public/applications/",
        {"community": community.slug, "group": photo.slug, "display_name": "路人", "phone": "13700000000"},
        format="json",
    )
    assert submitted.status_code == 201
    assert anonymous.post("/api/v1/invitations/accept/", {"token": "x"}, format="json").status_code == 401
    assert anonymous.post("/api/v1/applications/", {}, format="json").status_code == 401


# --- Writes whose answer is the same for everyone, but whose effect is not --------------------


@pytest.mark.parametrize("persona", list(SEES))
def test_bulk_approval_only_touches_what_the_persona_reviews(world, personas, persona):
    response = api_client(personas[persona]).post(
        "/api/v1/applications/bulk-approve/", {"ids": [world.application]}, format="json"
    )
    assert response.status_code == 200
    assert (_status(world) == "approved") is SEES[persona]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 201), ("subtree_admin", 201), ("sibling_admin", 400), ("member", 400), ("outsider", 400)],
)
def test_giving_a_role_through_the_api(world, personas, persona, expected):
    response = api_client(personas[persona]).post(
        "/api/v1/memberships/", {"member": world.member, "group": world.photo, "role": "guide"}, format="json"
    )
    assert response.status_code == expected
    assert (_membership(world)[1] == "guide") is (expected == 201)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 201), ("subtree_admin", 403), ("sibling_admin", 400), ("member", 400), ("outsider", 400)],
)
def test_creating_a_live_code_through_the_api(world, personas, persona, expected):
    from members.models import LiveCode

    response = api_client(personas[persona]).post(
        "/api/v1/live-codes/", {"name": "新活码", "parent": world.design, "attribute": "读书"}, format="json"
    )
    assert response.status_code == expected
    assert LiveCode.objects.filter(name="新活码").exists() is (expected == 201)
