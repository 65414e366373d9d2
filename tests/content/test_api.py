"""The content API end to end: what bots and operators' tools do with it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from content.models import (
    AllowedTerm,
    Digest,
    LexiconEntry,
    Post,
    PostKind,
    PostStatus,
    ReviewDecision,
    Schedule,
)
from content.services import posts
from members import services as people
from members.models import PlatformHandle
from outbox.models import Integration
from tests.factories import MemberFactory
from tests.personas import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(community, photo):
    member = MemberFactory(community=community, display_name="林嘉琪")
    people.membership_add(member=member, group=photo, source="manual")
    PlatformHandle.objects.create(community=community, member=member, platform="wechat", external_id="wx-lin")
    return member


def test_a_bot_posts_for_a_member_and_both_reviews_follow(community, photo, author, subtree_admin, owner):
    bot = api_client(subtree_admin)
    response = bot.post(
        "/api/v1/posts/",
        {
            "group": photo.pk,
            "kind": "knowledge",
            "title": "构图技巧",
            "body": "**三分法**",
            "author_platform": "wechat",
            "author_external_id": "wx-lin",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author"] == author.pk and body["status"] == "first_review" and body["source"] == "member"
    assert body["body_html"] == "<p><strong>三分法</strong></p>"
    assert body["status_url"].startswith("http://testserver/posts/")
    post_id = body["id"]

    response = bot.post(f"/api/v1/posts/{post_id}/first-review/", {"approve": True, "note": "好"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "final_review"
    response = api_client(owner).post(f"/api/v1/posts/{post_id}/final-review/", {"decision": "featured"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "published" and body["featured"] is True
    assert [(step["stage"], step["decision"], step["by"]) for step in body["steps"]] == [
        ("check", "passed", None),
        ("first", "approved", "subtree_admin"),
        ("final", "featured", "owner"),
    ]
    response = api_client(owner).post(f"/api/v1/posts/{post_id}/feature/", {"featured": False}, format="json")
    assert response.status_code == 200 and response.json()["featured"] is False

    # A second decision is a clear 400 saying who decided.
    response = bot.post(f"/api/v1/posts/{post_id}/first-review/", {"approve": False, "note": "晚了"}, format="json")
    assert response.status_code == 400 and "owner" in response.json()["message"]


def test_posting_for_an_unknown_account_or_half_an_account_is_a_400(community, photo, author, subtree_admin):
    bot = api_client(subtree_admin)
    base = {"group": photo.pk, "kind": "knowledge", "title": "标题", "body": "正文"}
    response = bot.post("/api/v1/posts/", {**base, "author_platform": "wechat", "author_external_id": "nobody"})
    assert response.status_code == 400 and "author_external_id" in response.json()["extra"]["fields"]
    response = bot.post("/api/v1/posts/", {**base, "author_platform": "wechat"})
    assert response.status_code == 400 and "author_external_id" in response.json()["extra"]["fields"]
    response = bot.post("/api/v1/posts/", {**base, "kind": "gossip"})
    assert response.status_code == 400 and "kind" in response.json()["extra"]["fields"]
    assert not Post.objects.exists()


def test_staff_post_as_staff_only_where_they_manage_content(community, photo, subtree_admin, sibling_admin):
    from members.models import Role
    from tests.factories import staff_user

    data = {"group": photo.pk, "kind": "announcement", "title": "公告", "body": "周六活动"}
    response = api_client(subtree_admin).post("/api/v1/posts/", data, format="json")
    assert response.status_code == 201 and response.json()["status"] == "published"
    guide = staff_user("guide", group=photo, role=Role.GUIDE)
    assert api_client(guide).post("/api/v1/posts/", data, format="json").status_code == 403
    response = api_client(sibling_admin).post("/api/v1/posts/", data, format="json")
    assert response.status_code == 400 and "group" in response.json()["extra"]["fields"]
    assert Post.objects.count() == 1


def test_posts_are_filtered_and_scoped(community, photo, coders, author, subtree_admin, sibling_admin, owner):
    posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="甲", body="x")
    posts.post_submit(group=coders, author=None, kind=PostKind.NEWS, title="乙", body="y", source="staff")
    titles = lambda client, **query: sorted(  # noqa: E731
        post["title"] for post in client.get("/api/v1/posts/", query).json()["results"]
    )
    assert titles(api_client(owner)) == ["乙", "甲"]
    assert titles(api_client(owner), status="published") == ["乙"]
    assert titles(api_client(owner), group=photo.pk) == ["甲"]
    assert titles(api_client(subtree_admin)) == ["甲"]
    assert titles(api_client(sibling_admin)) == ["乙"]


def test_the_lexicon_over_the_api(community, owner, subtree_admin):
    client = api_client(owner)
    base = f"/api/v1/communities/{community.pk}/lexicon"
    assert client.get(f"{base}/").json()["use_default_list"] is True
    response = client.post(
        "/api/v1/lexicon-words/", {"community": community.pk, "word": "竞品社群宝", "category": "competitor"}
    )
    assert response.status_code == 201 and response.json()["effective_action"] == "review"
    word_id = response.json()["id"]
    hits = client.post(f"{base}/scan/", {"text": "试试竞品 社群宝"}, format="json").json()
    assert hits == [
        {
            "word": "竞品社群宝",
            "category": "competitor",
            "action": "review",
            "start": 2,
            "end": 8,
            "matched": "竞品 社群宝",
        }
    ]
    response = client.post("/api/v1/allowed-terms/", {"community": community.pk, "term": "反竞品社群宝联盟"})
    assert response.status_code == 201
    assert client.post(f"{base}/scan/", {"text": "反竞品社群宝联盟"}, format="json").json() == []

    response = client.post(f"{base}/import/", {"file_format": "txt", "text": "刷单\n返利群\n", "category": "custom"})
    assert response.json() == {"added": 2, "updated": 0, "errors": []}
    exported = client.get(f"{base}/export/", {"file_format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().splitlines()[1:] == [
        "竞品社群宝,competitor,",
        "刷单,custom,",
        "返利群,custom,",
    ]
    assert client.patch(f"{base}/", {"use_default_list": False}, format="json").json()["use_default_list"] is False
    assert client.post(f"{base}/scan/", {"text": "网赌"}, format="json").json() == []

    # An admin of a sub-group neither sees nor changes the community's lists.
    admin = api_client(subtree_admin)
    assert admin.get(f"{base}/").status_code == 404
    assert admin.get("/api/v1/lexicon-words/").json()["results"] == []
    response = admin.post("/api/v1/lexicon-words/", {"community": community.pk, "word": "x", "category": "custom"})
    assert response.status_code == 400
    assert client.delete(f"/api/v1/lexicon-words/{word_id}/").status_code == 204
    assert not LexiconEntry.objects.filter(word="竞品社群宝").exists()
    term = AllowedTerm.objects.get()
    assert client.delete(f"/api/v1/allowed-terms/{term.pk}/").status_code == 204


def test_a_core_admin_of_the_hub_manages_words_but_a_guide_only_reads_them(community):
    from members.models import Role
    from tests.factories import staff_user

    core = api_client(staff_user("core", group=community.hub, role=Role.CORE_ADMIN))
    guide = api_client(staff_user("guide", group=community.hub, role=Role.GUIDE))
    data = {"community": community.pk, "word": "私域裂变", "category": "custom"}
    assert core.post("/api/v1/lexicon-words/", data).status_code == 201
    assert guide.get(f"/api/v1/communities/{community.pk}/lexicon/").status_code == 200
    assert guide.post("/api/v1/lexicon-words/", {**data, "word": "别的"}).status_code == 403
    assert guide.patch(f"/api/v1/communities/{community.pk}/lexicon/", {"use_default_list": False}).status_code == 403


def test_digests_over_the_api(community, photo, author, owner, subtree_admin):
    post = posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="构图技巧", body="x")
    posts.post_first_review(post=post, by=None, approve=True)
    posts.post_final_review(post=post, by=None, decision=ReviewDecision.FEATURED)
    Post.objects.filter(pk=post.pk).update(published_at=datetime(2026, 11, 10, 4, tzinfo=UTC))
    client = api_client(owner)
    week = {"community": community.pk, "period_start": "2026-11-09", "period_end": "2026-11-16"}
    response = client.post("/api/v1/digests/", week, format="json")
    assert response.status_code == 201 and response.json()["posts"] == [post.pk]
    digest_id = response.json()["id"]
    response = client.post("/api/v1/digests/", {**week, "period_start": "2026-11-01"}, format="json")
    assert response.status_code == 400  # nothing left to collect
    response = client.post("/api/v1/digests/", {**week, "period_end": "2026-12-31"}, format="json")
    assert response.status_code == 400 and "period_end" in response.json()["extra"]["fields"]
    response = client.patch(f"/api/v1/digests/{digest_id}/", {"title": "本周精选", "body": "- 构图技巧"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "本周精选"
    assert api_client(subtree_admin).post(f"/api/v1/digests/{digest_id}/publish/").status_code == 404
    response = client.post(f"/api/v1/digests/{digest_id}/publish/")
    assert response.status_code == 200 and response.json()["kind"] == "digest"
    assert client.post(f"/api/v1/digests/{digest_id}/publish/").status_code == 400
    assert Digest.objects.get().status == "published"


def test_schedules_over_the_api(community, photo, subtree_admin, sibling_admin):
    client = api_client(subtree_admin)
    data = {"group": photo.pk, "kind": "knowledge", "title": "干货", "body": "x", "weekdays": [1, 3], "time": "20:00"}
    response = client.post("/api/v1/schedules/", data, format="json")
    assert response.status_code == 201 and response.json()["weekdays"] == [1, 3]
    schedule_id = response.json()["id"]
    for bad in ({"weekdays": []}, {"weekdays": [9]}, {"time": "25:00"}, {"kind": "digest"}):
        response = client.post("/api/v1/schedules/", {**data, **bad}, format="json")
        assert response.status_code == 400, bad
    assert api_client(sibling_admin).patch(f"/api/v1/schedules/{schedule_id}/", {"is_active": False}).status_code == 404
    response = client.patch(f"/api/v1/schedules/{schedule_id}/", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert client.delete(f"/api/v1/schedules/{schedule_id}/").status_code == 204
    assert not Schedule.objects.exists()


def test_auto_reply_rules_over_the_api(community, photo, subtree_admin):
    client = api_client(subtree_admin)
    response = client.post(
        "/api/v1/auto-replies/", {"group": photo.pk, "keyword": "资料", "reply": "见群公告", "priority": 5}
    )
    assert response.status_code == 201 and response.json()["match"] == "contains"
    response = client.post("/api/v1/auto-replies/", {"group": photo.pk, "keyword": "！！", "reply": "x"})
    assert response.status_code == 400 and "keyword" in response.json()["extra"]["fields"]
    response = client.post("/api/v1/auto-replies/", {"group": photo.pk, "keyword": "a", "reply": "x", "priority": 101})
    assert response.status_code == 400 and "priority" in response.json()["extra"]["fields"]
    rule_id = client.get("/api/v1/auto-replies/").json()["results"][0]["id"]
    assert client.delete(f"/api/v1/auto-replies/{rule_id}/").status_code == 204


def test_integrations_are_for_owners(community, owner, subtree_admin, outsider):
    client = api_client(owner)
    response = client.post(
        "/api/v1/integrations/",
        {
            "community": community.pk,
            "name": "企微机器人",
            "platform": "wecom",
            "webhook_url": "https://bot.example/hook",
        },
        format="json",
    )
    assert response.status_code == 201 and response.json()["secret"].startswith("whsec_")  # shown this once
    integration_id = response.json()["id"]
    assert api_client(subtree_admin).get(f"/api/v1/integrations/{integration_id}/").status_code == 404
    response = api_client(subtree_admin).post("/api/v1/integrations/", {"community": community.pk, "name": "x"})
    assert response.status_code == 404  # the hub is not theirs to see
    from members.models import Role
    from tests.factories import staff_user

    core = api_client(staff_user("core", group=community.hub, role=Role.CORE_ADMIN))
    assert core.post("/api/v1/integrations/", {"community": community.pk, "name": "x"}).status_code == 403
    assert core.get("/api/v1/integrations/").json()["results"] == []
    assert (
        api_client(outsider).post("/api/v1/integrations/", {"community": community.pk, "name": "x"}).status_code == 404
    )
    response = client.post("/api/v1/integrations/", {"community": community.pk, "name": "x", "webhook_url": "nope"})
    assert response.status_code == 400 and "webhook_url" in response.json()["extra"]["fields"]
    assert client.delete(f"/api/v1/integrations/{integration_id}/").status_code == 204
    assert not Integration.objects.exists()


def test_the_review_setting_over_the_api(community, photo, owner, subtree_admin):
    url = f"/api/v1/groups/{photo.pk}/content-settings/"
    assert api_client(subtree_admin).get(url).json() == {"skip_review": False}
    assert api_client(subtree_admin).patch(url, {"skip_review": True}, format="json").status_code == 403
    assert api_client(owner).patch(url, {"skip_review": True}, format="json").json() == {"skip_review": True}
    assert posts.skips_review(photo)


def test_member_flags_over_the_api(community, photo, author, subtree_admin):
    for word in ("白痴", "脑残", "滚蛋"):
        posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="t", body=word)
    client = api_client(subtree_admin)
    [flag] = client.get("/api/v1/member-flags/").json()["results"]
    assert flag["member_name"] == "林嘉琪"
    response = client.post(f"/api/v1/member-flags/{flag['id']}/resolve/", {"note": "已私聊提醒"}, format="json")
    assert response.status_code == 200 and response.json()["note"] == "已私聊提醒"
    assert client.get("/api/v1/member-flags/").json()["results"] == []


def test_time_sensitive_posts_keep_their_order(community, photo, author, subtree_admin):
    older = posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="旧", body="x")
    Post.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    posts.post_submit(group=photo, author=author, kind=PostKind.KNOWLEDGE, title="新", body="y")
    results = api_client(subtree_admin).get("/api/v1/posts/", {"status": PostStatus.FIRST_REVIEW}).json()["results"]
    assert [post["title"] for post in results] == ["新", "旧"]
    results = api_client(subtree_admin).get("/api/v1/posts/", {"ordering": "created_at"}).json()["results"]
    assert [post["title"] for post in results] == ["旧", "新"]
