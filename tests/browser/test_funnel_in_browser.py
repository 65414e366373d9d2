"""The join funnel end to end in chromium: an applicant applies on the public form, an admin
reviews and approves from the keyboard, the applicant opens the invitation and is welcomed."""

import pytest
from playwright.sync_api import Browser, Page, expect

from members.models import Application, ApplicationStatus, Membership, Role
from members.services.questionnaire import question_create, questionnaire_add_article_questions
from outbox.models import OutboundMessage
from subgroups import services as tree
from tests.factories import CommunityFactory, GroupFactory, UserFactory, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def funnel(transactional_db):
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    design = GroupFactory(parent=community.hub, name="设计美学交流群")
    tree.group_update(group=design, rules_text="1. 禁止广告\n2. 文明交流")
    willing = questionnaire_add_article_questions(group=design)[3]
    question_create(
        group=design,
        text="您有哪些社群管理经验？",
        kind="text",
        required=True,
        show_if_question=willing,
        show_if_answers=["愿意", "看情况"],
    )
    staff_user("lin", group=design, role=Role.ADMIN)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="lin")
    user.set_password("correct horse battery staple")
    user.save()
    UserFactory(username="owner", operator_of=[community])
    return community, design


def test_apply_review_invite_and_welcome(browser: Browser, live_server, funnel):
    community, design = funnel
    applicant = browser.new_context().new_page()
    applicant.goto(f"{live_server.url}/apply/{community.slug}/{design.slug}/")
    applicant.get_by_label("Your name").fill("陈思远")
    applicant.get_by_label("Phone").fill("13812345678")
    applicant.get_by_label("设计").check()
    applicant.get_by_label("50-150人").check()
    applicant.get_by_label("每天几十条").check()
    experience = applicant.get_by_label("您有哪些社群管理经验？")
    expect(experience).to_be_hidden()
    applicant.get_by_label("看情况").check()  # the logic jump shows the follow-up
    expect(experience).to_be_visible()
    applicant.get_by_role("button", name="Send my application").click()
    # The follow-up is required once shown: the form comes back with the message beside it.
    expect(applicant.locator(".question .error")).to_have_text("This question needs an answer.")
    applicant.get_by_label("您有哪些社群管理经验？").fill("带过 200 人的读书会")
    applicant.get_by_role("button", name="Send my application").click()
    expect(applicant.get_by_test_id("application-status")).to_contain_text("Pending")
    status_url = applicant.url
    assert Application.objects.get().status == ApplicationStatus.PENDING

    admin = browser.new_context().new_page()
    admin.goto(f"{live_server.url}/login/")
    admin.get_by_label("Username").fill("lin")
    admin.get_by_label("Password").fill("correct horse battery staple")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_role("link", name="Applications").click()
    row = admin.locator("tr[data-row]", has_text="陈思远")
    expect(row).to_contain_text("Pending")
    admin.keyboard.press("j")
    expect(row).to_have_class("status-pending selected")
    admin.keyboard.press("o")
    panel = admin.locator("#application-panel")
    expect(panel).to_contain_text("带过 200 人的读书会")
    expect(panel).to_contain_text("138****5678")
    admin.keyboard.press("a")
    expect(admin.locator("tr[data-row]", has_text="陈思远")).to_contain_text("Approved")
    assert Application.objects.get().status == ApplicationStatus.APPROVED

    applicant.goto(status_url)
    applicant.get_by_role("link", name="Accept the invitation").click()
    expect(applicant.get_by_role("heading", name="Join 设计美学交流群")).to_be_visible()
    applicant.get_by_role("button", name="Join the group").click()
    welcome = applicant.get_by_test_id("welcome")
    expect(welcome).to_contain_text("Welcome 陈思远 to “设计美学交流群”!")  # the community speaks English
    expect(welcome).to_contain_text("1. 禁止广告")
    membership = Membership.objects.get(group=design, member__display_name="陈思远")
    assert membership.is_active and membership.source == "application"
    assert OutboundMessage.objects.filter(kind="welcome", group=design).count() == 1


def test_rejecting_from_the_queue_needs_a_reason(page: Page, live_server, funnel):
    from members import services

    community, design = funnel
    design.questions.all().delete()  # this test is about the queue, not the questionnaire
    services.application_submit(group=design, display_name="周一诺", phone="13900000000")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("lin")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/c/{community.slug}/applications/")
    row = page.locator("tr[data-row]", has_text="周一诺")
    row.get_by_label("Reason for rejecting").fill("名额已满，下期再来")
    row.get_by_role("button", name="Reject").click()
    expect(page.locator("tr[data-row]", has_text="周一诺")).to_contain_text("Rejected")
    application = Application.objects.get()
    assert (application.status, application.decision_reason) == (ApplicationStatus.REJECTED, "名额已满，下期再来")


def test_bulk_approval_without_reloading(page: Page, live_server, funnel):
    from members import services

    community, design = funnel
    design.questions.all().delete()
    for index, name in enumerate(["甲", "乙", "丙"]):
        services.application_submit(group=design, display_name=name, phone=f"1390000000{index}")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("lin")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/c/{community.slug}/applications/")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Select 甲").check()
    page.get_by_label("Select 丙").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text("Approved 2 application(s).")).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    statuses = dict(Application.objects.values_list("display_name", "status"))
    assert statuses == {"甲": "approved", "乙": "pending", "丙": "approved"}
    expect(page.locator("tr[data-row]", has_text="乙")).to_be_visible()
    expect(page.locator("tr[data-row]", has_text="甲")).to_have_count(0)
