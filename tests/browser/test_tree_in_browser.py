"""An operator, in a real chromium, logs in, opens the tree and grows it."""

import pytest
from playwright.sync_api import Page, expect

from subgroups.models import Group
from tests.factories import CommunityFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator_with_tree(transactional_db):
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    GroupFactory(parent=community.hub, name="设计美学交流群")
    GroupFactory(parent=community.hub, name="互联网从业者交流群-摄影小群01")
    UserFactory(username="lin", operator_of=[community])
    return community


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("lin")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/c/internet/")


def test_an_operator_creates_a_sub_group_and_sees_it_in_the_tree(page: Page, live_server, operator_with_tree):
    community = operator_with_tree
    log_in(page, live_server.url)
    expect(page.locator("canvas[data-chart='fill']")).to_be_visible()

    page.get_by_role("link", name="Tree", exact=True).click()
    chart = page.get_by_test_id("orgchart")
    expect(chart.locator(".node")).to_have_count(3)

    page.get_by_text("New sub-group").click()
    page.get_by_label("About (for the suggested name)").fill("摄影")
    page.get_by_role("button", name="Suggest name").click()
    name = page.locator("#id_name")
    expect(name).to_have_value("互联网从业者交流群-摄影小群02")
    page.get_by_label("Under").select_option(label="互联网从业者交流群")
    page.get_by_label("Kind").select_option("interest")
    page.get_by_role("button", name="Create sub-group").click()

    expect(page.get_by_text("“互联网从业者交流群-摄影小群02” created.")).to_be_visible()
    new_node = chart.locator(".node", has_text="互联网从业者交流群-摄影小群02")
    expect(new_node).to_be_visible()
    expect(new_node).to_contain_text("0 / 500")
    expect(chart.locator(".node")).to_have_count(4)
    created = Group.objects.get(name="互联网从业者交流群-摄影小群02")
    assert created.parent_id == community.hub_id

    # Each box opens the group's panel, and links to its page for browsers without JavaScript.
    assert new_node.get_attribute("href") == f"/c/internet/groups/{created.pk}/"
    new_node.click()
    expect(page.locator("#group-panel").get_by_role("heading", name="互联网从业者交流群-摄影小群02")).to_be_visible()


def test_a_banned_name_is_refused_in_place(page: Page, live_server, operator_with_tree):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/c/internet/tree/")
    page.get_by_text("New sub-group").click()
    page.locator("#id_name").fill("精英交流群")
    page.get_by_role("button", name="Create sub-group").click()
    expect(page.locator("#name-field .error")).to_contain_text("精英")
    assert not Group.objects.filter(name="精英交流群").exists()


def test_the_dashboard_switches_to_chinese(page: Page, live_server, operator_with_tree):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/c/internet/tree/")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="树状结构")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")


def test_an_operator_renames_and_archives_from_the_picture(page: Page, live_server, operator_with_tree):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/c/internet/tree/")
    chart = page.get_by_test_id("orgchart")
    chart.locator(".node", has_text="设计美学交流群").click()
    panel = page.locator("#group-panel")
    expect(panel.get_by_role("heading", name="设计美学交流群")).to_be_visible()
    expect(chart.locator(".node.selected")).to_contain_text("设计美学交流群")

    panel.get_by_label("Rename").fill("设计交流群")
    panel.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("“设计美学交流群” is now “设计交流群”.")).to_be_visible()
    renamed = chart.locator(".node", has_text="设计交流群")
    expect(renamed).to_be_visible()

    renamed.click()
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Archive with sub-groups").click()
    expect(chart.locator(".node.status-archived", has_text="设计交流群")).to_be_visible()
    assert Group.objects.get(name="设计交流群").status == "archived"
