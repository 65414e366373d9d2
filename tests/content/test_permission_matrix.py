"""Who gets what on the content pages and endpoints.

Personas as in tests/members/test_permission_matrix.py: the owner; an admin of 设计美学交流群
(whose subtree holds 摄影群); an admin of the sibling 程序员技术群; a plain member with a login;
an outsider who owns another community; an anonymous visitor. Objects live in 摄影群, except the
word list, digests and integrations, which are the whole community's.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from content.models import (
    AutoReply,
    Digest,
    LexiconEntry,
    ModerationFlag,
    Post,
    PostKind,
    ReviewDecision,
    Schedule,
)
from content.services import autoreply, calendar, digests, lexicon, moderation, posts
from members import services as people
from outbox.models import Integration, MessageKind, OutboundMessage
from outbox.services import integration_create, message_enqueue
from subgroups.models import Group
from tests.conftest import settled
from tests.factories import MemberFactory
from tests.personas import api_client, page_client

# The world is built once for the module (tests/conftest.py: shared); each case runs in a savepoint.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]

PERSONAS = ("owner", "subtree_admin", "sibling_admin", "member", "outsider", "anonymous")
LOGIN, UNAUTHORISED = 302, 401


@dataclass
class World:
    slug: str
    community: int
    photo: int
    first: int  # a post waiting for first review
    final: int  # a post waiting for final review
    flag: int
    word: int
    digest: int
    schedule: int
    rule: int
    integration: int
    message: int


@pytest.fixture(scope="module")
def world(shared):
    """Built once: each case runs in a savepoint rolled back after it."""
    community, photo = shared.community, shared.groups["摄影群"]
    author = MemberFactory(community=community, display_name="林嘉琪")
    people.membership_add(member=author, group=photo, source="manual")
    first = posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="待初审", body="x")
    final = posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="待终审", body="y")
    posts.post_first_review(post=final, by=None, approve=True)
    featured = posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="精选", body="z")
    posts.post_first_review(post=featured, by=None, approve=True)
    posts.post_final_review(post=featured, by=None, decision=ReviewDecision.FEATURED)
    Post.objects.filter(pk=featured.pk).update(published_at=datetime(2026, 11, 10, 4, tzinfo=UTC))
    digest = digests.digest_draft(
        community=community, period_start=datetime(2026, 11, 9).date(), period_end=datetime(2026, 11, 16).date()
    )
    flag = moderation.message_scan(group=photo, platform="wechat", external_message_id="m1", text="滚蛋")
    word = lexicon.word_add(community=community, word="竞品社群宝", category="competitor")
    schedule = calendar.schedule_create(
        group=photo, kind=PostKind.TOPIC, title="话题日", body="聊构图", weekdays=[2], at=time(20)
    )
    rule = autoreply.auto_reply_create(group=photo, keyword="资料", reply="见群公告")
    integration = integration_create(community=community, name="机器人")
    message = message_enqueue(group=photo, kind=MessageKind.WELCOME, body="欢迎")
    result = World(
        community.slug,
        community.pk,
        photo.pk,
        first.pk,
        final.pk,
        flag.pk,
        word.pk,
        digest.pk,
        schedule.pk,
        rule.pk,
        integration.pk,
        message.pk,
    )
    return settled(result)


def page(name: str, *args):
    return lambda w: reverse(f"content:{name}", args=[w.slug, *(getattr(w, arg) for arg in args)])


PAGES = [
    ("review", "get", page("review"), None, (200, 200, 200, 404, 404, LOGIN)),
    ("posts", "get", page("posts"), None, (200, 200, 200, 404, 404, LOGIN)),
    ("first post", "get", page("post", "first"), None, (200, 200, 404, 404, 404, LOGIN)),
    ("first review", "post", page("first_review", "first"), {"decision": "approve"}, (302, 302, 404, 404, 404, LOGIN)),
    (
        "final review",
        "post",
        page("final_review", "final"),
        {"decision": "published"},
        (302, 403, 404, 404, 404, LOGIN),
    ),
    ("new post", "get", page("post_new"), None, (200, 200, 200, 404, 404, LOGIN)),
    ("flags", "get", page("flags"), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "resolve flag",
        "post",
        lambda w: reverse("content:flag_resolve", args=[w.slug, "chat", w.flag]),
        {},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("words", "get", page("words"), None, (200, 404, 404, 404, 404, LOGIN)),
    (
        "remove word",
        "post",
        page("words"),
        lambda w: {"action": "remove-word", "id": w.word},
        (302, 404, 404, 404, 404, LOGIN),
    ),
    ("export words", "get", page("words_export"), None, (200, 404, 404, 404, 404, LOGIN)),
    ("digests", "get", page("digests"), None, (200, 200, 200, 404, 404, LOGIN)),
    ("digest", "get", page("digest", "digest"), None, (200, 404, 404, 404, 404, LOGIN)),
    (
        "edit digest",
        "post",
        page("digest", "digest"),
        {"title": "本周精选", "body": "改过"},
        (302, 404, 404, 404, 404, LOGIN),
    ),
    ("calendar", "get", page("calendar"), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "pause schedule",
        "post",
        page("calendar"),
        lambda w: {"action": "pause", "id": w.schedule},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("auto-replies", "get", page("auto_replies"), None, (200, 200, 200, 404, 404, LOGIN)),
    (
        "delete rule",
        "post",
        page("auto_replies"),
        lambda w: {"action": "delete", "id": w.rule},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    ("welcome", "get", page("welcome", "photo"), None, (200, 200, 404, 404, 404, LOGIN)),
    (
        "save welcome",
        "post",
        page("welcome", "photo"),
        {"welcome_template": "欢迎 {name}"},
        (302, 302, 404, 404, 404, LOGIN),
    ),
    (
        "skip review",
        "post",
        page("review_setting", "photo"),
        {"skip_review": "1"},
        (302, 403, 404, 404, 404, LOGIN),
    ),
    ("integrations", "get", page("integrations"), None, (200, 404, 404, 404, 404, LOGIN)),
    (
        "delete integration",
        "post",
        page("integrations"),
        lambda w: {"action": "delete", "id": w.integration},
        (302, 404, 404, 404, 404, LOGIN),
    ),
]

API = [
    ("post", "get", lambda w: f"/api/v1/posts/{w.first}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "first review",
        "post",
        lambda w: f"/api/v1/posts/{w.first}/first-review/",
        {"approve": True},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "final review",
        "post",
        lambda w: f"/api/v1/posts/{w.final}/final-review/",
        {"decision": "published"},
        (200, 403, 404, 404, 404, UNAUTHORISED),
    ),
    ("flag", "get", lambda w: f"/api/v1/moderation-flags/{w.flag}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "resolve flag",
        "post",
        lambda w: f"/api/v1/moderation-flags/{w.flag}/resolve/",
        {},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "lexicon",
        "get",
        lambda w: f"/api/v1/communities/{w.community}/lexicon/",
        None,
        (200, 404, 404, 404, 404, UNAUTHORISED),
    ),
    ("word", "get", lambda w: f"/api/v1/lexicon-words/{w.word}/", None, (200, 404, 404, 404, 404, UNAUTHORISED)),
    (
        "delete word",
        "delete",
        lambda w: f"/api/v1/lexicon-words/{w.word}/",
        None,
        (204, 404, 404, 404, 404, UNAUTHORISED),
    ),
    ("digest", "get", lambda w: f"/api/v1/digests/{w.digest}/", None, (200, 404, 404, 404, 404, UNAUTHORISED)),
    (
        "publish digest",
        "post",
        lambda w: f"/api/v1/digests/{w.digest}/publish/",
        None,
        (200, 404, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "pause schedule",
        "patch",
        lambda w: f"/api/v1/schedules/{w.schedule}/",
        {"is_active": False},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "delete rule",
        "delete",
        lambda w: f"/api/v1/auto-replies/{w.rule}/",
        None,
        (204, 204, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "auto-reply",
        "post",
        lambda w: f"/api/v1/groups/{w.photo}/auto-reply/",
        {"text": "求资料"},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "integration",
        "get",
        lambda w: f"/api/v1/integrations/{w.integration}/",
        None,
        (200, 404, 404, 404, 404, UNAUTHORISED),
    ),
    ("message", "get", lambda w: f"/api/v1/outbox/{w.message}/", None, (200, 200, 404, 404, 404, UNAUTHORISED)),
    (
        "ack message",
        "post",
        lambda w: f"/api/v1/outbox/{w.message}/ack/",
        {},
        (200, 200, 404, 404, 404, UNAUTHORISED),
    ),
    (
        "skip review",
        "patch",
        lambda w: f"/api/v1/groups/{w.photo}/content-settings/",
        {"skip_review": True},
        (200, 403, 404, 404, 404, UNAUTHORISED),
    ),
]


def _post_status(pk: int):
    return lambda w: Post.objects.get(pk=getattr(w, pk)).status


EFFECTS = {
    "first review": _post_status("first"),
    "final review": _post_status("final"),
    "resolve flag": lambda w: ModerationFlag.objects.get(pk=w.flag).status,
    "remove word": lambda w: LexiconEntry.objects.filter(pk=w.word).exists(),
    "delete word": lambda w: LexiconEntry.objects.filter(pk=w.word).exists(),
    "edit digest": lambda w: Digest.objects.get(pk=w.digest).body,
    "publish digest": lambda w: Digest.objects.get(pk=w.digest).status,
    "pause schedule": lambda w: Schedule.objects.get(pk=w.schedule).is_active,
    "delete rule": lambda w: AutoReply.objects.filter(pk=w.rule).exists(),
    "save welcome": lambda w: Group.objects.get(pk=w.photo).welcome_template,
    "skip review": lambda w: posts.skips_review(Group.objects.get(pk=w.photo)),
    "delete integration": lambda w: Integration.objects.filter(pk=w.integration).exists(),
    "ack message": lambda w: OutboundMessage.objects.get(pk=w.message).status,
}


def _cases(table):
    return [
        pytest.param(name, method, build, data, persona, expected[index], id=f"{name}-{persona}")
        for name, method, build, data, expected in table
        for index, persona in enumerate(PERSONAS)
    ]


def _assert_effect(name: str, world: World, before, allowed: bool) -> None:
    if name not in EFFECTS:
        return
    after = EFFECTS[name](world)
    if allowed:
        assert after != before, (name, "should have changed", before)
    else:
        assert after == before, (name, "changed although refused", before, after)


@pytest.mark.parametrize(("name", "method", "build", "data", "persona", "expected"), _cases(PAGES))
def test_pages(world, personas, name, method, build, data, persona, expected):
    client = Client() if persona == "anonymous" else page_client(personas[persona])
    data = data(world) if callable(data) else data
    before = EFFECTS[name](world) if name in EFFECTS else None
    arguments = (build(world),) if data is None else (build(world), data)
    response = getattr(client, method)(*arguments)
    assert response.status_code == expected, (name, persona, response.status_code)
    if persona == "anonymous":
        assert response["Location"].startswith("/login/")
    _assert_effect(name, world, before, allowed=expected == 302 and persona != "anonymous")


@pytest.mark.parametrize(("name", "method", "build", "data", "persona", "expected"), _cases(API))
def test_api(world, personas, name, method, build, data, persona, expected):
    client = APIClient() if persona == "anonymous" else api_client(personas[persona])
    before = EFFECTS[name](world) if name in EFFECTS else None
    response = getattr(client, method)(build(world), data or {}, format="json")
    assert response.status_code == expected, (name, persona, response.status_code, response.content[:200])
    _assert_effect(name, world, before, allowed=expected in (200, 201, 204))


# --- Lists: everyone gets 200, but sees only their part ---------------------------------------

LISTS = {
    "/api/v1/posts/": ("title", {"待初审", "待终审", "精选"}),
    "/api/v1/moderation-flags/": ("excerpt", {"滚蛋"}),
    "/api/v1/schedules/": ("title", {"话题日"}),
    "/api/v1/auto-replies/": ("keyword", {"资料"}),
    "/api/v1/outbox/": ("body", {"欢迎"}),
    "/api/v1/lexicon-words/": ("word", {"竞品社群宝"}),
    "/api/v1/digests/": ("status", {"draft"}),
    "/api/v1/integrations/": ("name", {"机器人"}),
}
COMMUNITY_WIDE = {"/api/v1/lexicon-words/", "/api/v1/digests/", "/api/v1/integrations/"}
SEES = {"owner": True, "subtree_admin": True, "sibling_admin": False, "member": False, "outsider": False}


@pytest.mark.parametrize("url", list(LISTS))
@pytest.mark.parametrize("persona", list(SEES))
def test_lists_show_only_what_the_persona_may_see(world, personas, url, persona):
    response = api_client(personas[persona]).get(url, {"page_size": 500})
    assert response.status_code == 200
    field, theirs = LISTS[url]
    seen = {str(item[field]) for item in response.json()["results"]}
    sees = SEES[persona] and (persona == "owner" or url not in COMMUNITY_WIDE)
    if url == "/api/v1/outbox/" and persona in ("owner", "subtree_admin"):
        seen &= theirs  # the published post queued a push too
    assert seen == (theirs if sees else set()), (url, persona, seen)
