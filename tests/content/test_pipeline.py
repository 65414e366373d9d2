"""Posts through their pipeline: the word check, first review by an admin of the group or
above, final review by an owner, the record of every step, and what reaches the outbox."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from content.models import (
    AuthorWarning,
    MemberFlag,
    Post,
    PostKind,
    PostSource,
    PostStatus,
    ReviewDecision,
    ReviewStage,
)
from content.services import posts
from core.errors import ApplicationError
from members import services as people
from members.models import Role
from outbox.models import MessageKind, OutboundMessage
from subgroups.models import Group
from tests.factories import MemberFactory, UserFactory
from tests.personas import api_client, page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(community, photo):
    member = MemberFactory(community=community, display_name="林嘉琪")
    people.membership_add(member=member, group=photo, source="manual")
    return member


def submit(group, author, body="今天分享一个构图技巧：三分法。", title="构图技巧", kind=PostKind.KNOWLEDGE) -> Post:
    return posts.post_submit(group=group, author=author, kind=kind, title=title, body=body)


def decisions(post: Post) -> list[tuple[str, str]]:
    return list(post.steps.order_by("at", "pk").values_list("stage", "decision"))


# --- The word check -------------------------------------------------------------------------


def test_a_clean_post_waits_for_first_review(photo, author):
    post = submit(photo, author)
    assert post.status == PostStatus.FIRST_REVIEW and post.published_at is None
    assert decisions(post) == [(ReviewStage.CHECK, ReviewDecision.PASSED)]
    assert not OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}").exists()


def test_a_block_word_rejects_the_post_and_names_the_words(photo, author):
    post = submit(photo, author, body="找我办 假 证，价格优惠")
    assert post.status == PostStatus.BLOCKED
    step = post.steps.get()
    assert (step.stage, step.decision) == (ReviewStage.CHECK, ReviewDecision.BLOCKED)
    assert "办假证" in step.note
    assert post.word_hits[0]["word"] == "办假证" and post.word_hits[0]["matched"] == "办 假 证"


def test_a_review_word_sends_the_post_to_review_even_where_review_is_skipped(photo, author, owner):
    posts.content_settings_update(group=photo, skip_review=True)
    post = submit(photo, author, body="私聊领取资料包")
    assert post.status == PostStatus.FIRST_REVIEW
    assert decisions(post) == [(ReviewStage.CHECK, ReviewDecision.TO_REVIEW)]


def test_a_group_may_skip_review(photo, author):
    posts.content_settings_update(group=photo, skip_review=True)
    post = submit(photo, author)
    assert post.status == PostStatus.PUBLISHED and post.published_at is not None
    assert decisions(post) == [
        (ReviewStage.CHECK, ReviewDecision.PASSED),
        (ReviewStage.FINAL, ReviewDecision.PUBLISHED),
    ]
    assert OutboundMessage.objects.get(dedupe_key=f"post:{post.pk}").kind == MessageKind.PUSH


def test_a_warn_word_lets_the_post_go_on_and_warns_the_author(photo, author):
    post = submit(photo, author, body="这个设计也太脑残了")
    assert post.status == PostStatus.FIRST_REVIEW
    assert decisions(post) == [(ReviewStage.CHECK, ReviewDecision.WARNED)]
    assert AuthorWarning.objects.get(member=author).words == ["脑残"]
    assert not MemberFlag.objects.exists()


def test_three_warnings_in_thirty_days_flag_the_member_once(photo, author):
    old = submit(photo, author, body="白痴")
    AuthorWarning.objects.filter(post=old).update(at=timezone.now() - timedelta(days=31))  # outside the window
    submit(photo, author, body="脑残")
    submit(photo, author, body="滚蛋")
    assert not MemberFlag.objects.exists()
    submit(photo, author, body="白痴")
    flag = MemberFlag.objects.get()
    assert (flag.member, flag.group, flag.status) == (author, photo, "open") and "3" in flag.reason
    submit(photo, author, body="去死吧")
    assert MemberFlag.objects.count() == 1  # one open flag, however many more warnings


def test_only_members_of_the_group_post_in_it(community, coders, author):
    with pytest.raises(ApplicationError) as error:
        submit(coders, author)
    assert "group" in error.value.extra["fields"]


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("title", {"title": ""}),
        ("title", {"title": "x" * 201}),
        ("body", {"body": "   "}),
        ("body", {"body": "x" * 20_001}),
        ("body", {"body": "bad \x00 byte"}),
        ("kind", {"kind": PostKind.ANNOUNCEMENT}),  # members don't post announcements
        ("kind", {"kind": "gossip"}),
    ],
)
def test_bad_posts_are_refused_with_field_errors(photo, author, field, values):
    with pytest.raises(ApplicationError) as error:
        submit(photo, author, **values)
    assert field in error.value.extra["fields"]
    assert not Post.objects.exists()


# --- Reviews --------------------------------------------------------------------------------


def test_both_reviews_are_recorded_and_publishing_queues_the_push(photo, author, subtree_admin, owner):
    post = submit(photo, author)
    posts.post_first_review(post=post, by=subtree_admin, approve=True, note="不错")
    assert post.status == PostStatus.FINAL_REVIEW
    posts.post_final_review(post=post, by=owner, decision=ReviewDecision.FEATURED)
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.featured and post.published_at is not None
    steps = list(post.steps.order_by("at", "pk").values_list("stage", "decision", "by__username", "note"))
    assert steps == [
        (ReviewStage.CHECK, ReviewDecision.PASSED, None, ""),
        (ReviewStage.FIRST, ReviewDecision.APPROVED, "subtree_admin", "不错"),
        (ReviewStage.FINAL, ReviewDecision.FEATURED, "owner", ""),
    ]
    message = OutboundMessage.objects.get(dedupe_key=f"post:{post.pk}")
    assert (message.group, message.kind) == (photo, MessageKind.PUSH) and "构图技巧" in message.body


def test_rejecting_needs_a_reason(photo, author, subtree_admin, owner):
    post = submit(photo, author)
    with pytest.raises(ApplicationError) as error:
        posts.post_first_review(post=post, by=subtree_admin, approve=False, note=" ")
    assert "note" in error.value.extra["fields"]
    post.refresh_from_db()
    assert post.status == PostStatus.FIRST_REVIEW
    posts.post_first_review(post=post, by=subtree_admin, approve=True)
    with pytest.raises(ApplicationError):
        posts.post_final_review(post=post, by=owner, decision=ReviewDecision.REJECTED)
    posts.post_final_review(post=post, by=owner, decision=ReviewDecision.REJECTED, note="与群主题无关")
    post.refresh_from_db()
    assert post.status == PostStatus.REJECTED
    assert not OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}").exists()


def test_a_decided_post_cannot_be_decided_again(photo, author, subtree_admin, owner):
    post = submit(photo, author)
    posts.post_first_review(post=post, by=subtree_admin, approve=True)
    stale = Post.objects.get(pk=post.pk)
    stale.status = PostStatus.FIRST_REVIEW  # a reviewer's page loaded before the decision
    with pytest.raises(ApplicationError) as error:
        posts.post_first_review(post=stale, by=owner, approve=False, note="重复")
    assert "subtree_admin" in error.value.message
    assert Post.objects.get(pk=post.pk).status == PostStatus.FINAL_REVIEW
    assert post.steps.filter(stage=ReviewStage.FIRST).count() == 1


def test_staff_posts_skip_review_and_calendar_posts_too(community, photo, owner):
    post = posts.post_submit(
        group=photo,
        author=None,
        kind=PostKind.ANNOUNCEMENT,
        title="群规",
        body="请遵守群规",
        source=PostSource.STAFF,
        by=owner,
    )
    assert post.status == PostStatus.PUBLISHED
    assert OutboundMessage.objects.get(dedupe_key=f"post:{post.pk}").kind == MessageKind.ANNOUNCEMENT


def test_a_hub_announcement_is_mirrored_into_groups_in_their_transition_window(community, photo, design, coders):
    Group.objects.filter(pk=coders.pk).update(transition_ends_at=timezone.now() - timedelta(days=1))  # settled
    Group.objects.filter(pk__in=[photo.pk, design.pk]).update(transition_ends_at=timezone.now() + timedelta(days=3))
    post = posts.post_submit(
        group=community.hub,
        author=None,
        kind=PostKind.ANNOUNCEMENT,
        title="周末活动",
        body="周六线下见",
        source=PostSource.STAFF,
    )
    mirrored = OutboundMessage.objects.filter(dedupe_key__startswith=f"post:{post.pk}:mirror:")
    assert {message.group for message in mirrored} == {photo, design}
    assert all("周六线下见" in message.body for message in mirrored)
    assert OutboundMessage.objects.get(dedupe_key=f"post:{post.pk}").group == community.hub

    # A news post in the hub is not an announcement: no mirrors.
    news = posts.post_submit(
        group=community.hub, author=None, kind=PostKind.NEWS, title="动态", body="行业动态", source=PostSource.STAFF
    )
    assert not OutboundMessage.objects.filter(dedupe_key__startswith=f"post:{news.pk}:mirror:").exists()


# --- Who may review -------------------------------------------------------------------------


def test_a_sibling_admin_cannot_review_and_an_admin_cannot_give_the_final_review(
    community, photo, author, subtree_admin, sibling_admin, owner
):
    post = submit(photo, author)
    url = reverse("content:first_review", args=[community.slug, post.pk])
    assert page_client(sibling_admin).post(url, {"decision": "approve"}).status_code == 404
    assert (
        api_client(sibling_admin).post(f"/api/v1/posts/{post.pk}/first-review/", {"approve": True}).status_code == 404
    )
    assert Post.objects.get(pk=post.pk).status == PostStatus.FIRST_REVIEW

    assert page_client(subtree_admin).post(url, {"decision": "approve"}).status_code == 302
    assert Post.objects.get(pk=post.pk).status == PostStatus.FINAL_REVIEW

    final = reverse("content:final_review", args=[community.slug, post.pk])
    assert page_client(subtree_admin).post(final, {"decision": "published"}).status_code == 403
    response = api_client(subtree_admin).post(f"/api/v1/posts/{post.pk}/final-review/", {"decision": "published"})
    assert response.status_code == 403
    assert Post.objects.get(pk=post.pk).status == PostStatus.FINAL_REVIEW

    assert page_client(owner).post(final, {"decision": "published"}).status_code == 302
    assert Post.objects.get(pk=post.pk).status == PostStatus.PUBLISHED


def test_a_guide_sees_posts_but_does_not_review_them(community, photo, author):
    from tests.factories import staff_user

    guide = staff_user("guide", group=photo, role=Role.GUIDE)
    post = submit(photo, author)
    assert api_client(guide).get(f"/api/v1/posts/{post.pk}/").status_code == 200
    assert api_client(guide).post(f"/api/v1/posts/{post.pk}/first-review/", {"approve": True}).status_code == 403


def test_an_owner_of_another_subtree_is_no_owner_here(community, photo, coders, author):
    """Final review is for an owner whose role covers the post's group."""
    coders_owner = UserFactory(username="coders_owner")
    member = people.member_create(community=community, display_name="程序员群主", user=coders_owner)
    people.role_grant(member=member, group=coders, role=Role.OWNER)
    post = submit(photo, author)
    posts.post_first_review(post=post, by=None, approve=True)
    response = api_client(coders_owner).post(f"/api/v1/posts/{post.pk}/final-review/", {"decision": "published"})
    assert response.status_code == 404
    assert Post.objects.get(pk=post.pk).status == PostStatus.FINAL_REVIEW


# --- The queues and pages -------------------------------------------------------------------


def test_queues_show_only_the_reviewers_groups_oldest_first(community, photo, coders, author, sibling_admin, owner):
    coder = MemberFactory(community=community, display_name="周一诺")
    people.membership_add(member=coder, group=coders, source="manual")
    newer = submit(photo, author, title="新帖")
    older = submit(photo, author, title="旧帖")
    Post.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=2))
    theirs = submit(coders, coder, title="代码评审")

    body = page_client(owner).get(reverse("content:review", args=[community.slug])).content.decode()
    assert body.index("旧帖") < body.index("新帖") and "代码评审" in body
    assert "2\xa0days" in body or "2 days" in body  # the age

    body = page_client(sibling_admin).get(reverse("content:review", args=[community.slug])).content.decode()
    assert "代码评审" in body and "旧帖" not in body and "新帖" not in body
    assert theirs.pk and newer.pk


def test_an_htmx_decision_answers_with_the_row(community, photo, author, subtree_admin):
    post = submit(photo, author)
    response = page_client(subtree_admin).post(
        reverse("content:first_review", args=[community.slug, post.pk]),
        {"decision": "reject", "note": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400 and "Say why" in response.content.decode()
    response = page_client(subtree_admin).post(
        reverse("content:first_review", args=[community.slug, post.pk]),
        {"decision": "reject", "note": "广告"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert f'id="post-{post.pk}"' in response.content.decode() and "Rejected" in response.content.decode()


def test_the_author_sees_the_status_of_their_post(community, photo, author, subtree_admin):
    post = submit(photo, author)
    posts.post_first_review(post=post, by=subtree_admin, approve=False, note="与主题无关")
    from django.test import Client

    body = Client().get(reverse("content:post_status", args=[post.status_token])).content.decode()
    assert "Rejected" in body and "与主题无关" in body and "构图技巧" in body
    assert "subtree_admin" not in body  # reviewers stay anonymous to authors
    assert Client().get(reverse("content:post_status", args=["nope"])).status_code == 404


def test_a_member_with_a_login_posts_from_my_posts(community, photo):
    user = UserFactory(username="lin")
    member = people.member_create(community=community, display_name="林", user=user)
    people.membership_add(member=member, group=photo, source="manual")
    client = page_client(user)
    response = client.post(
        reverse("content:my_posts"), {"group": photo.pk, "kind": "knowledge", "title": "第一帖", "body": "你好"}
    )
    assert response.status_code == 302
    post = Post.objects.get(title="第一帖")
    assert post.author == member and post.status == PostStatus.FIRST_REVIEW
    assert "第一帖" in client.get(reverse("content:my_posts")).content.decode()
    posts.post_first_review(post=post, by=None, approve=False, note="请补充细节")
    page = client.get(reverse("content:my_posts"))
    assert page.status_code == 200 and "请补充细节" in page.content.decode()
    # Announcements are staff's; a group they are not in is not offered.
    response = client.post(
        reverse("content:my_posts"), {"group": photo.pk, "kind": "announcement", "title": "公告", "body": "x"}
    )
    assert response.status_code == 400 and not Post.objects.filter(title="公告").exists()


XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<svg onload="alert(1)"></svg>',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


@pytest.mark.parametrize("attack", XSS)
def test_xss_in_a_post_body_renders_harmless(community, photo, author, owner, attack):
    post = submit(photo, author, body=f"正文 **加粗**\n\n{attack}")
    html = post.body_html
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<style", "style="):
        assert bad not in html.lower(), (attack, html)
    assert "<strong>加粗</strong>" in html
    page = page_client(owner).get(reverse("content:post", args=[community.slug, post.pk])).content.decode()
    article = page[page.index('data-testid="post-body"') :]
    article = article[: article.index("</article>")]
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg"):
        assert bad not in article.lower(), (attack, article)


def test_links_in_posts_are_marked_nofollow(photo, author):
    post = submit(photo, author, body="[文档](https://example.org/doc)")
    assert 'href="https://example.org/doc"' in post.body_html and "nofollow" in post.body_html


def test_featuring_a_published_post(community, photo, author, owner, subtree_admin):
    post = submit(photo, author)
    url = reverse("content:post", args=[community.slug, post.pk])
    page_client(owner).post(url, {"featured": "1"})
    assert not Post.objects.get(pk=post.pk).featured  # not published yet
    posts.post_first_review(post=post, by=subtree_admin, approve=True)
    posts.post_final_review(post=post, by=owner, decision=ReviewDecision.PUBLISHED)
    assert page_client(subtree_admin).post(url, {"featured": "1"}).status_code == 403
    assert page_client(owner).post(url, {"featured": "1"}).status_code == 302
    assert Post.objects.get(pk=post.pk).featured
