"""Both review steps in chromium: a member posts from "My posts", an admin of the group gives
the first review from the queue, the owner gives the final review, and the author sees it."""

import pytest
from playwright.sync_api import Browser, expect

from content.models import Post, PostStatus, ReviewStep
from members import services as people
from members.models import Role
from outbox.models import OutboundMessage
from tests.factories import CommunityFactory, GroupFactory, UserFactory, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def content(transactional_db):
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    design = GroupFactory(parent=community.hub, name="设计美学交流群")
    staff_user("lin", group=design, role=Role.ADMIN)
    UserFactory(username="owner", operator_of=[community])
    author = UserFactory(username="chen")
    member = people.member_create(community=community, display_name="陈思远", user=author)
    people.membership_add(member=member, group=design, source="manual")
    return community, design


def log_in(browser: Browser, live_server, username: str):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def test_first_review_by_an_admin_then_final_review_by_the_owner(browser: Browser, live_server, content):
    community, design = content

    author = log_in(browser, live_server, "chen")
    author.goto(f"{live_server.url}/me/posts/")
    author.get_by_label("Group").select_option(str(design.pk))
    author.get_by_label("Kind").select_option("knowledge")
    author.get_by_label("Title").fill("配色的三个原则")
    author.get_by_label("Body").fill("1. 对比\n2. 统一\n3. 留白\n\n<script>alert('x')</script>")
    author.get_by_role("button", name="Send for review").click()
    expect(author.get_by_test_id("my-post-status")).to_have_text("Waiting for first review")
    post = Post.objects.get()

    admin = log_in(browser, live_server, "lin")
    admin.get_by_role("link", name="Content", exact=True).click()
    admin.evaluate("window.__notReloaded = true")
    first = admin.locator("section[data-stage=first]")
    row = first.locator("tr[data-row]", has_text="配色的三个原则")
    expect(row).to_contain_text("设计美学交流群")
    expect(admin.locator("section[data-stage=final]")).to_contain_text("Final review is the owners'")
    row.get_by_role("button", name="Approve").click()
    expect(first.locator("tr[data-row]", has_text="配色的三个原则")).to_contain_text("Waiting for final review")
    assert admin.evaluate("window.__notReloaded") is True  # htmx swapped the row in place
    # An admin cannot publish: no final-review buttons on the row.
    expect(first.get_by_role("button", name="Publish")).to_have_count(0)
    assert Post.objects.get(pk=post.pk).status == PostStatus.FINAL_REVIEW

    owner = log_in(browser, live_server, "owner")
    owner.goto(f"{live_server.url}/c/{community.slug}/content/")
    final = owner.locator("section[data-stage=final]")
    row = final.locator("tr[data-row]", has_text="配色的三个原则")
    row.get_by_role("button", name="Publish as featured").click()
    expect(final.locator("tr[data-row]", has_text="配色的三个原则")).to_contain_text("Published")
    expect(final.locator("tr[data-row]", has_text="配色的三个原则")).to_contain_text("featured")

    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.featured
    steps = list(ReviewStep.objects.filter(post=post).order_by("at", "pk").values_list("decision", "by__username"))
    assert steps == [("passed", None), ("approved", "lin"), ("featured", "owner")]
    assert OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}", group=design).count() == 1

    # The post reads safely: the script is gone, the list is a list.
    owner.goto(f"{live_server.url}/c/{community.slug}/content/posts/{post.pk}/")
    body = owner.get_by_test_id("post-body")
    expect(body.locator("li")).to_have_count(3)
    expect(body.locator("script")).to_have_count(0)

    author.reload()
    expect(author.get_by_test_id("my-post-status")).to_have_text("Published")
    author.goto(f"{live_server.url}/posts/{post.status_token}/")
    expect(author.locator(".timeline li")).to_have_count(3)


def test_rejecting_in_the_first_review_needs_a_reason_and_the_author_sees_it(browser: Browser, live_server, content):
    community, design = content
    author = log_in(browser, live_server, "chen")
    author.goto(f"{live_server.url}/me/posts/")
    author.get_by_label("Group").select_option(str(design.pk))
    author.get_by_label("Title").fill("加我领资料")
    author.get_by_label("Body").fill("私聊领取资料包")
    author.get_by_role("button", name="Send for review").click()

    admin = log_in(browser, live_server, "lin")
    admin.goto(f"{live_server.url}/c/{community.slug}/content/")
    row = admin.locator("tr[data-row]", has_text="加我领资料")
    expect(row).to_contain_text("私聊领取")  # the word check's hit, shown for the reviewer
    row.get_by_role("button", name="Reject").click()
    expect(admin.locator("tr[data-row]", has_text="加我领资料")).to_contain_text("Say why")
    row = admin.locator("tr[data-row]", has_text="加我领资料")
    row.get_by_label("Reason for rejecting").fill("广告引流")
    row.get_by_role("button", name="Reject").click()
    expect(admin.locator("tr[data-row]", has_text="加我领资料")).to_contain_text("Rejected")
    assert Post.objects.get().status == PostStatus.REJECTED

    author.reload()
    expect(author.get_by_test_id("my-post-status")).to_have_text("Rejected")
    expect(author.get_by_text("广告引流")).to_be_visible()
