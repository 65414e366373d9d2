"""Who gets what on the fission pages and endpoints.

Personas as in tests/recall/test_permission_matrix.py: the owner; an admin of 设计美学交流群
(whose subtree holds 摄影群: they see the figures but do not manage campaigns or credit); an
admin of the sibling 程序员技术群; a plain member with a login; an outsider who owns another
community; an anonymous visitor. The public pages answer everyone.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from engagement.services.passes import member_pass
from fission.services.campaigns import campaign_save
from fission.services.referrals import referrals_credit
from members.services import livecodes
from members.services.referrals import member_invite_code
from tests.conftest import settled
from tests.fission.conftest import member_in, scan_and_join
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401
ALL = {"owner": 200, "subtree_admin": 200, "sibling_admin": 200}
MANAGES = {"owner": 302, "subtree_admin": 403, "sibling_admin": 403}
MANAGES_API = {"owner": 200, "subtree_admin": 403, "sibling_admin": 403}
EVERYONE = dict.fromkeys(PERSONAS, 200)


@pytest.fixture(scope="module")
def built(shared):
    """李雷 of 设计美学交流群 brought a friend into 摄影群 during a community-wide campaign. Built
    once: each case runs in a savepoint rolled back after it."""
    community, design = shared.community, shared.groups["设计美学交流群"]
    code = livecodes.livecode_create(
        community=community, name="摄影活码", parent=design, attribute="摄影", groups=[shared.groups["摄影群"]]
    )
    inviter = member_in(design, "李雷")
    member_invite_code(member=inviter)
    member_invite_code(member=member_in(design, "韩梅梅"))
    campaign = campaign_save(
        community=community,
        name="邀请好友",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
        goal_invites=3,
        reward_text="书单",
    )
    scan_and_join(code, inviter, "朋友")
    referrals_credit(community=community)
    result = {
        "slug": community.slug,
        "community": community.pk,
        "campaign": campaign.pk,
        "inviter": inviter.pk,
        "referral": inviter.referrals_made.get().pk,
        "code": inviter.invite_code,
        "token": member_pass(member=inviter).token,
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
    # (method, url name, args, data, {persona: status}); args name keys of ``world``
    ("get", "fission:overview", ("slug",), None, ALL),
    ("get", "fission:campaigns", ("slug",), None, ALL),
    ("get", "fission:campaign", ("slug", "campaign"), None, ALL),
    ("post", "fission:credit", ("slug",), {}, MANAGES),
    ("post", "fission:campaign", ("slug", "campaign"), {"delete": "1"}, MANAGES),
    ("get", "fission:landing", ("code",), None, EVERYONE),
    ("get", "fission:landing_qr", ("code",), None, EVERYONE),
    ("get", "fission:my_invites", ("token",), None, EVERYONE),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "name", "args", "data", "expected"), PAGES, ids=[f"{p[0]} {p[1]}" for p in PAGES])
def test_pages(world, personas, persona, method, name, args, data, expected):
    url = reverse(name, args=[world[arg] for arg in args])
    client = as_persona(persona, personas, api=False)
    response = getattr(client, method)(url, data) if data is not None else client.get(url)
    want = expected.get(persona, LOGIN if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {url}"


ENDPOINTS = [
    ("get", "/api/v1/members/{inviter}/invite-link/", None, {"owner": 200, "subtree_admin": 200}),
    ("get", "/api/v1/fission/coefficients/?community={community}", None, ALL),
    ("get", "/api/v1/campaigns/{campaign}/", None, ALL),
    ("patch", "/api/v1/campaigns/{campaign}/", {"goal_invites": 4}, MANAGES_API),
    ("get", "/api/v1/referrals/{referral}/", None, {"owner": 200, "subtree_admin": 200}),
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "data", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_endpoints(world, personas, persona, method, url, data, expected):
    client = as_persona(persona, personas, api=True)
    target = url.format(**world)
    response = getattr(client, method)(target, data, format="json") if data is not None else client.get(target)
    want = expected.get(persona, UNAUTHORISED if persona == "anonymous" else 404)
    assert response.status_code == want, f"{persona} {method} {target}: {response.content[:200]}"
