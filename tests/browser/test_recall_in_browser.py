"""Recall in chromium: the owner works through the call list (htmx swaps each row as it is
recorded), then the funnel overview draws its chart from the numbers the database holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from members.models import Member
from outbox.services import message_ack
from recall.models import CallOutcome, Channel, OptOut, OptOutSource, RecallAttempt, RecallStage
from recall.selectors import STEPS
from recall.services import dispatch
from recall.services.engine import recall_run
from recall.services.policies import coupons_add, policy_default
from tests import personas
from tests.browser.test_review_in_browser import log_in
from tests.recall.conftest import act, at_day, local, silent_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ("林晓雨", "周子轩", "王嘉琪")
design, owner = personas.design, personas.owner  # the personas' fixtures, for this module


@pytest.fixture
def silent_since() -> datetime:
    """Recent enough that every stage (day 30, 37, 60) falls inside the overview's 90 days."""
    return local(timezone.now() - timedelta(days=65), 12)


@pytest.fixture
def phone_tasks(community, design, owner, silent_since) -> list[Member]:
    """Three members silent for 60 days, taken through all three stages, so each has a call."""
    policy = policy_default(community=community)
    coupons_add(pool=policy.stages.get(position=1).coupon_pool, text="BACK-1\nBACK-2\nBACK-3")
    members = [
        silent_member(design, silent_since, name=name, phone=f"1381234567{index}", platform_id=f"wx-{index}")
        for index, name in enumerate(NAMES)
    ]
    for day in (30, 37, 60):
        now = at_day(silent_since, day)
        recall_run(community=community, now=now)
        dispatch.attempts_dispatch(community_id=community.pk, now=now)
    assert RecallAttempt.objects.filter(channel=Channel.PHONE, sent_at__isnull=False).count() == 3
    return members


def call_row(page: Page, name: str):
    return page.locator("table[data-calls] tr[data-call]", has_text=name)


def test_the_owner_works_through_the_call_list(browser: Browser, live_server, community, design, owner, phone_tasks):
    reached, unanswered, refused = phone_tasks
    page = log_in(browser, live_server, "owner")
    page.goto(f"{live_server.url}/c/{community.slug}/recall/calls/")
    expect(page.locator("table[data-calls] tr[data-call]")).to_have_count(3)
    for member in phone_tasks:
        row = call_row(page, member.display_name)
        expect(row.locator("td.script")).to_contain_text("Script:")
        expect(row.locator("td.script")).to_contain_text("free month")
        expect(row).to_contain_text(member.phone)  # an owner sees the number in full
    page.evaluate("window.__notReloaded = true")

    row = call_row(page, reached.display_name)
    row.get_by_label("Reached").check()
    row.get_by_label("Note").fill("工作太忙，下周回群")
    row.get_by_role("button", name="Record").click()
    expect(call_row(page, reached.display_name)).to_contain_text("Recorded: Reached")
    expect(call_row(page, reached.display_name)).to_have_class("done")

    row = call_row(page, unanswered.display_name)
    row.get_by_label("No answer").check()
    row.get_by_role("button", name="Record").click()
    expect(call_row(page, unanswered.display_name)).to_contain_text("Recorded: No answer")

    row = call_row(page, refused.display_name)
    row.get_by_label("Refused").check()
    row.get_by_label("Asked not to be contacted again").check()
    row.get_by_role("button", name="Record").click()
    expect(call_row(page, refused.display_name)).to_contain_text("Recorded: Refused")
    assert page.evaluate("window.__notReloaded") is True, "htmx swapped the rows in place"

    calls = {call.member_id: call for call in RecallAttempt.objects.filter(channel=Channel.PHONE)}
    assert {member_id: call.call_outcome for member_id, call in calls.items()} == {
        reached.pk: CallOutcome.REACHED,
        unanswered.pk: CallOutcome.NO_ANSWER,
        refused.pk: CallOutcome.REFUSED,
    }
    assert {call.called_by_id for call in calls.values()} == {owner.pk}
    assert all(call.called_at is not None for call in calls.values())
    assert calls[reached.pk].call_note == "工作太忙，下周回群"
    assert [member_id for member_id, call in calls.items() if call.responded_at] == [reached.pk]
    # Picking up counts as delivered and opened, refusing or not; no answer counts as neither.
    assert calls[refused.pk].delivered_at and calls[refused.pk].opened_at
    assert calls[unanswered.pk].delivered_at is None
    assert list(OptOut.objects.values_list("member_id", "source")) == [(refused.pk, OptOutSource.ADMIN)]

    page.reload()
    expect(page.locator("table[data-calls] tr[data-call]")).to_have_count(1)
    row = call_row(page, unanswered.display_name)
    expect(row).to_contain_text("No answer last time")
    made = page.locator("section", has=page.get_by_role("heading", name="Calls made, last 30 days"))
    expect(made.locator("tbody tr")).to_have_count(2)
    expect(made.locator("tbody tr", has_text=reached.display_name)).to_contain_text("Reached")
    expect(made.locator("tbody tr", has_text=reached.display_name)).to_contain_text("工作太忙，下周回群")
    expect(made.locator("tbody tr", has_text=refused.display_name)).to_contain_text("Refused")
    expect(made.locator("tbody tr", has_text=refused.display_name)).to_contain_text("owner")
    expect(made).not_to_contain_text(unanswered.display_name)

    # The reached member comes back to the group, the engine credits the call, and the
    # integration acknowledges one private message: the overview shows all five steps.
    act(reached, design, timezone.now() - timedelta(minutes=5))
    message_ack(message=RecallAttempt.objects.get(member=unanswered, channel=Channel.PLATFORM).message)
    recall_run(community=community)
    page.goto(f"{live_server.url}/c/{community.slug}/recall/")
    page.wait_for_function(
        "() => window.Chart && document.querySelector('canvas[data-source=\"recall-funnel\"][data-drawn]')"
    )
    drawn = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas[data-source=\"recall-funnel\"]'))"
        ".data.datasets.map(set => [set.label, set.data])"
    )
    attempts = RecallAttempt.objects.filter(community=community)
    expected = {
        f"{stage.name} · {Channel(stage.channel).label}": [
            attempts.filter(stage=stage, **{f"{step}_at__isnull": False}).count() for step in STEPS
        ]
        for stage in RecallStage.objects.filter(policy__community=community)
    }
    assert dict(drawn) == expected
    assert expected == {
        "What you missed · In-app notice": [3, 3, 0, 0, 0],
        "Private message · Private message": [3, 1, 0, 0, 0],
        "Personal call · Phone call": [3, 2, 2, 1, 1],
    }
    for step in STEPS:
        shown = page.locator(f".kpi-value[data-step={step}]").inner_text()
        assert int(shown.replace(",", "")) == attempts.filter(**{f"{step}_at__isnull": False}).count(), step
    expect(page.locator(".kpi-value[data-step=sent]")).to_have_text("9")
    expect(page.locator(".kpi-value[data-step=recovered]")).to_have_text("1")
    recovered = page.locator("section", has=page.get_by_role("heading", name="Recovered members"))
    expect(recovered.locator("tbody tr")).to_have_count(1)
    expect(recovered.locator("tbody tr")).to_contain_text(reached.display_name)
