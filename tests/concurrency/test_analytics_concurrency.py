"""Real concurrent connections on PostgreSQL against ingestion and the metric engine: the
same batch sent by several integrations at once, many batches meeting the same new member,
events landing while the metrics are computed, and two metric runs at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import DirtyDay, Event, GroupDay, MemberDay
from analytics.services.ingest import events_ingest
from analytics.services.metrics import metrics_compute
from members.models import Member, Membership, PlatformHandle
from tests.concurrency.test_tree_concurrency import THREADS, run_at_once
from tests.factories import CommunityFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hub():
    return CommunityFactory().hub


def batch(hub, ids, *, user=lambda n: f"u{n % 5}", minutes_ago=1):
    return [
        {
            "type": "message",
            "group": hub.pk,
            "user_id": user(n),
            "occurred_at": (timezone.now() - timedelta(minutes=minutes_ago + n)).isoformat(),
            "event_id": f"e{n}",
        }
        for n in ids
    ]


def test_the_same_batch_from_every_thread_is_stored_once(hub):
    events = batch(hub, range(200))
    results = []
    errors = run_at_once(lambda index: results.append(events_ingest(raw_events=events, groups=[hub])))
    assert errors == []
    assert Event.objects.count() == 200
    assert sum(result.accepted for result in results) == 200
    assert sum(result.duplicates for result in results) == 200 * (THREADS - 1)
    # Every thread met the same five new accounts: one member each survives.
    assert PlatformHandle.objects.filter(community=hub.community).count() == 5
    assert Member.objects.filter(community=hub.community, handles__isnull=True, user__isnull=True).count() == 0
    assert sum(result.members_created for result in results) == 5
    assert Membership.objects.filter(group=hub, source="platform").count() == 5
    hub.refresh_from_db()
    assert hub.member_count == 5


def test_different_batches_meeting_one_new_member(hub):
    errors = run_at_once(
        lambda index: events_ingest(raw_events=batch(hub, range(index * 50, index * 50 + 50), user=lambda n: "newbie"),
                                    groups=[hub])
    )  # fmt: skip
    assert errors == []
    assert Event.objects.count() == 50 * THREADS
    assert Member.objects.filter(community=hub.community, handles__external_id="newbie").count() == 1
    newbie = Member.objects.get(handles__external_id="newbie")
    assert set(Event.objects.values_list("member_id", flat=True)) == {newbie.pk}
    # Every batch saw the newbie act in the hub; one membership, one seat.
    assert Membership.objects.filter(member=newbie, group=hub).count() == 1
    hub.refresh_from_db()
    assert hub.member_count == 1


def test_events_landing_during_a_run_stay_marked_for_the_next(hub):
    events_ingest(raw_events=batch(hub, range(100)), groups=[hub])

    def work(index: int) -> None:
        if index == 0:
            metrics_compute(community=hub.community)
        else:
            events_ingest(raw_events=batch(hub, range(1000 + index * 10, 1000 + index * 10 + 10)), groups=[hub])

    assert run_at_once(work) == []
    metrics_compute(community=hub.community)
    assert DirtyDay.objects.count() == 0
    rolled = sum(MemberDay.objects.values_list("messages", flat=True))
    assert rolled == Event.objects.count() == 100 + 10 * (THREADS - 1)


def test_two_runs_at_once_one_does_the_work(hub):
    events_ingest(raw_events=batch(hub, range(300)), groups=[hub])
    reports = []
    assert run_at_once(lambda index: reports.append(metrics_compute(community=hub.community)), threads=4) == []
    assert any(not report.skipped for report in reports)
    assert sum(report.rollup_days for report in reports) == len({e.day for e in Event.objects.all()})
    assert GroupDay.objects.filter(group=hub).exists()
