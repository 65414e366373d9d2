"""What a hostile or careless user might try against content and the outbox: speaking for
members without the standing to, hiding words from the engine, feeding the importer and the
pages malformed input, and pointing webhooks inward."""

import urllib.error

import pytest
from django.urls import reverse

from content.models import LexiconEntry, Post, PostKind, WordCategory
from content.services import lexicon, moderation, posts
from content.words import Entry, Matcher
from core.errors import ApplicationError
from members import services as people
from members.models import PlatformHandle, Role
from outbox import services as outbox
from outbox.models import MessageKind, OutboundMessage
from tests.factories import MemberFactory, staff_user
from tests.outbox.test_webhooks import Receiver
from tests.personas import api_client, page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(community, photo):
    member = MemberFactory(community=community, display_name="林嘉琪")
    people.membership_add(member=member, group=photo, source="manual")
    PlatformHandle.objects.create(community=community, member=member, platform="wechat", external_id="wx-lin")
    return member


@pytest.fixture
def guide(photo):
    return staff_user("guide", group=photo, role=Role.GUIDE)


# --- Only those who moderate a group speak and act for its members ---------------------------


def test_a_guide_cannot_post_in_a_members_name(photo, author, guide):
    data = {
        "group": photo.pk,
        "kind": "knowledge",
        "title": "冒名",
        "body": "x",
        "author_platform": "wechat",
        "author_external_id": "wx-lin",
    }
    assert api_client(guide).post("/api/v1/posts/", data, format="json").status_code == 403
    assert not Post.objects.exists()


def test_a_guide_cannot_have_messages_recalled_or_members_warned(photo, author, guide):
    data = {"group": photo.pk, "platform": "wechat", "external_message_id": "real-1", "text": "网赌"}
    assert api_client(guide).post("/api/v1/moderation/scan/", data, format="json").status_code == 403
    data = {**data, "text": "脑残", "author_external_id": "wx-lin"}
    assert api_client(guide).post("/api/v1/moderation/scan/", data, format="json").status_code == 403
    assert not OutboundMessage.objects.filter(kind=MessageKind.INSTRUCTION).exists()
    assert not author.warnings.exists()


def test_a_guide_sees_the_outbox_but_cannot_mark_messages_delivered(photo, guide, subtree_admin):
    message = outbox.message_enqueue(group=photo, kind=MessageKind.WELCOME, body="欢迎")
    assert api_client(guide).get(f"/api/v1/outbox/{message.pk}/").status_code == 200
    assert api_client(guide).post(f"/api/v1/outbox/{message.pk}/ack/", {}, format="json").status_code == 403
    assert OutboundMessage.objects.get(pk=message.pk).status == "pending"
    assert api_client(subtree_admin).post(f"/api/v1/outbox/{message.pk}/ack/", {}).status_code == 200


def test_pollers_are_not_handed_what_a_webhook_pushes(community, photo, subtree_admin):
    welcome = outbox.message_enqueue(
        group=photo, kind=MessageKind.WELCOME, body="微信欢迎", recipient_platform="wechat"
    )
    for_qq = outbox.message_enqueue(group=photo, kind=MessageKind.WELCOME, body="QQ 欢迎", recipient_platform="qq")
    listed = lambda: [item["id"] for item in api_client(subtree_admin).get("/api/v1/outbox/").json()["results"]]  # noqa: E731
    assert listed() == [welcome.pk, for_qq.pk]
    outbox.integration_create(
        community=community, name="微信 webhook", platform="wechat", webhook_url="https://bot.example/hook"
    )
    assert listed() == [for_qq.pk]
    outbox.integration_create(community=community, name="全平台", webhook_url="https://all.example/hook")
    assert listed() == []
    # Asking for a status lists everything, for bookkeeping.
    response = api_client(subtree_admin).get("/api/v1/outbox/", {"status": "pending"})
    assert len(response.json()["results"]) == 2


# --- Webhooks stay outside -----------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # carrier-grade NAT, where Alibaba Cloud keeps its metadata service
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fd00::1",
        "fe80::1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_not_public(address):
    assert outbox._not_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are(address):
    assert not outbox._not_public(address)


def test_the_connection_itself_is_checked_after_dns(settings):
    """A name that passed the check when saved and now resolves inward is stopped at connect."""
    receiver = Receiver()
    try:
        settings.CANOPY_WEBHOOK_ALLOW_PRIVATE = False
        with pytest.raises(urllib.error.URLError) as error:
            outbox._opener.open(urllib.request.Request(receiver.url, data=b"{}", method="POST"), timeout=5)
        assert isinstance(error.value.reason, outbox.BlockedAddress)
        assert receiver.requests == []
        settings.CANOPY_WEBHOOK_ALLOW_PRIVATE = True
        with outbox._opener.open(urllib.request.Request(receiver.url, data=b"{}", method="POST"), timeout=5):
            pass
        assert len(receiver.requests) == 1
    finally:
        receiver.close()


def test_an_overlong_webhook_address_is_a_form_error(community, owner):
    url = "https://bot.example/" + "a" * 200
    response = page_client(owner).post(
        reverse("content:integrations", args=[community.slug]), {"name": "机器人", "webhook_url": url}
    )
    assert response.status_code == 400
    with pytest.raises(ApplicationError):
        outbox.integration_create(community=community, name="机器人", webhook_url=url)


# --- The engine sees through marks and emoji variants --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "赌❤️博",  # an emoji with its variation selector (U+FE0F)
        "赌\u20e3博",  # a keycap mark
        "赌\U000e0100博",  # an ideographic variation selector
        "赌\u0336博",  # a strike-through mark
        "赌\u200e博",  # a left-to-right mark
        "赌\u00ad博",  # a soft hyphen
    ],
)
def test_marks_between_characters_do_not_hide_a_word(text):
    assert [hit.word for hit in Matcher([Entry("赌博", "custom", "block")]).scan(text)] == ["赌博"]


def test_strike_through_letters_and_decomposed_accents_are_read_plainly():
    matcher = Matcher([Entry("vip", "custom", "review"), Entry("café", "custom", "warn")])
    assert [hit.matched for hit in matcher.scan("v\u0336i\u0336p\u0336 价")] == ["v\u0336i\u0336p\u0336"]
    assert [hit.matched for hit in matcher.scan("去 cafe\u0301 吧")] == ["cafe\u0301"]


def test_an_own_entry_overrides_the_shipped_word_however_it_is_written(community):
    assert [hit.action for hit in lexicon.text_scan(community=community, text="傻x")] == ["warn"]
    lexicon.word_add(community=community, word="傻 x", category=WordCategory.UNCIVIL, action="block")
    assert [hit.action for hit in lexicon.text_scan(community=community, text="傻X")] == ["block"]
    # One entry per word as the engine reads it.
    lexicon.word_add(community=community, word="傻X", category=WordCategory.UNCIVIL, action="review")
    assert list(LexiconEntry.objects.values_list("word", "action")) == [("傻X", "review")]


def test_hits_in_a_post_point_into_its_title_or_its_body(photo, author):
    post = posts.post_submit(group=photo, author=author, kind=PostKind.TOPIC, title="脑残言论", body="说网赌的人")
    spans = {(hit["field"], hit["word"], hit["start"], hit["end"]) for hit in post.word_hits}
    assert spans == {("title", "脑残", 0, 2), ("body", "网赌", 1, 3)}


def test_images_in_posts_become_links(photo, author):
    post = posts.post_submit(
        group=photo, author=author, kind=PostKind.TOPIC, title="配色", body="![配色图](https://evil.example/p.png)"
    )
    assert "<img" not in post.body_html
    assert '<a href="https://evil.example/p.png"' in post.body_html and "配色图" in post.body_html


# --- The importer and the pages take malformed input calmly --------------------------------


def test_old_mac_line_endings_import(community):
    report = lexicon.words_import(community=community, text="竞品甲,competitor\r竞品乙,competitor\r", fmt="csv")
    assert (report.added, report.errors) == (2, [])


def test_a_broken_csv_is_a_clear_error(community, owner):
    with pytest.raises(ApplicationError) as error:
        lexicon.words_import(community=community, text="ok,custom\n" + "x" * 200_000 + ",custom\n", fmt="csv")
    assert "Line 2" in error.value.message and "file" in error.value.extra["fields"]
    response = api_client(owner).post(
        f"/api/v1/communities/{community.pk}/lexicon/import/",
        {"file_format": "csv", "text": '"unclosed\n' + "y" * 140_000},
        format="json",
    )
    assert response.status_code == 400
    assert not LexiconEntry.objects.exists()


def test_a_list_has_a_ceiling(community, monkeypatch):
    monkeypatch.setattr(lexicon, "MAX_WORDS", 3)
    lexicon.words_import(community=community, text="甲乙\n丙丁\n", fmt="txt")
    with pytest.raises(ApplicationError):
        lexicon.words_import(community=community, text="戊己\n庚辛\n", fmt="txt")
    lexicon.word_add(community=community, word="戊己", category="custom")
    with pytest.raises(ApplicationError):
        lexicon.word_add(community=community, word="庚辛", category="custom")
    lexicon.word_add(community=community, word="甲 乙", category="custom", action="block")  # an update fits
    assert LexiconEntry.objects.count() == 3


@pytest.mark.parametrize("bad", ["abc", "1.5", "-1", "", "١٢", "9" * 30])
def test_a_malformed_id_in_a_form_is_a_404(community, owner, bad):
    client = page_client(owner)
    for name, action in [
        ("words", "remove-word"),
        ("words", "remove-allowed"),
        ("calendar", "pause"),
        ("auto_replies", "delete"),
        ("integrations", "delete"),
    ]:
        response = client.post(reverse(f"content:{name}", args=[community.slug]), {"action": action, "id": bad})
        assert response.status_code == 404, (name, bad)


def test_a_note_with_control_characters_is_refused(community, photo, subtree_admin):
    flag = moderation.message_scan(group=photo, platform="wechat", external_message_id="m1", text="滚蛋")
    response = page_client(subtree_admin).post(
        reverse("content:flag_resolve", args=[community.slug, "chat", flag.pk]), {"note": "好\x00的"}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == "open"
    response = api_client(subtree_admin).post(
        f"/api/v1/moderation-flags/{flag.pk}/resolve/", {"note": "好\x00的"}, format="json"
    )
    assert response.status_code == 400


def test_a_digest_period_far_in_the_past_is_a_400(community, owner):
    response = api_client(owner).post(
        "/api/v1/digests/",
        {"community": community.pk, "period_start": "0001-01-01", "period_end": "0001-01-08"},
        format="json",
    )
    assert response.status_code == 400 and "period_start" in response.json()["extra"]["fields"]
