"""Analytics in chromium: the overview draws its charts from the computed numbers, and a
chat log uploaded on the imports page runs to a full progress bar."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from analytics.models import Event, ImportJob, ImportStatus
from analytics.services.ingest import events_ingest
from analytics.services.metrics import metrics_compute
from tests.browser.test_review_in_browser import log_in
from tests.factories import CommunityFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def community(transactional_db):
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    design = GroupFactory(parent=community.hub, name="设计美学交流群")
    UserFactory(username="owner", operator_of=[community])
    now = timezone.now()
    events_ingest(
        raw_events=[
            {
                "type": "message",
                "group": group.pk,
                "user_id": f"u{n}",
                "occurred_at": (now - timedelta(days=day, minutes=n)).isoformat(),
                "event_id": f"{group.pk}-{n}-{day}",
            }
            for group in (community.hub, design)
            for n in range(8)
            for day in range(0, 21, 1 + n % 3)
        ],
        groups=[community.hub, design],
    )
    metrics_compute(community=community)
    return community


def test_the_overview_draws_its_charts(browser: Browser, live_server, community):
    page = log_in(browser, live_server, "owner")
    page.goto(f"{live_server.url}/c/{community.slug}/analytics/")
    expect(page.get_by_role("heading", name="Groups by health")).to_be_visible()
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-drawn]').length >= 4")
    points = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas[data-source=\"trend-volume\"]')).data.datasets[0].data"
    )
    assert len(points) >= 20 and points[-1] == 8 + 1  # members on the last day: eight, and the owner
    expect(page.locator(".health-tree").get_by_role("link", name="设计美学交流群")).to_be_visible()


def test_an_import_runs_to_a_full_progress_bar(browser: Browser, live_server, community, tmp_path, eager_tasks):
    log = tmp_path / "群聊记录.csv"
    lines = ["发送时间,微信号,昵称,内容"] + [
        f"2026-11-{1 + n % 20:02d} 10:{n % 60:02d}:00,wx{n % 9},成员{n % 9},第{n}条消息" for n in range(120)
    ]
    log.write_text("\n".join(lines), encoding="gb18030")
    page = log_in(browser, live_server, "owner")
    page.goto(f"{live_server.url}/c/{community.slug}/analytics/imports/")
    page.get_by_label("The file holds").select_option("chat_log")
    page.get_by_label("Group").select_option(str(community.hub_id))
    page.locator("input[type=file]").set_input_files(str(log))
    page.get_by_role("button", name="Upload").click()
    before = Event.objects.count()
    expect(page.get_by_text("第0条消息")).to_be_visible()  # the dry run's preview
    assert Event.objects.count() == before  # nothing stored by the preview
    page.get_by_role("button", name="Start the import").click()
    progress = page.locator("progress.import-progress")
    expect(progress).to_have_attribute("value", "120", timeout=30_000)
    expect(page.locator("#import-progress")).to_contain_text("Done")
    assert ImportJob.objects.get().status == ImportStatus.DONE
