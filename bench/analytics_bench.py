"""The analytics figures of ``make bench``.

- ingestion through the API (the Django stack, JSON, checks, dedupe) against raw COPY of the
  same events into the same table;
- the full metric computation for a large community against one hand-written GROUP BY over
  the same events;
- an incremental recompute after 10,000 new events;
- the overview page's server time and query count for that community.

Sizes: BENCH_MEMBERS and BENCH_EVENTS (100,000 and 5,000,000 on PostgreSQL; a tenth of that on
SQLite, where the figures mean less anyway).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

import pandas as pd
from django.db import connection
from django.test import Client
from django.utils import timezone

POSTGRES = connection.vendor == "postgresql"
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000" if POSTGRES else "10000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "5000000" if POSTGRES else "500000"))
API_BATCHES = 20
BATCH = 5000


def _say(figures: dict[str, object]) -> None:
    """Print figures as they come: a large run takes a while."""
    for name, value in figures.items():
        print(f"  {name}: {value}", flush=True)


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _ingestion(client: Client, services) -> dict[str, object]:
    from analytics.models import Event
    from analytics.services.synthetic import events_copy

    community = services.community_create(name="接入基准社群", slug="bench-ingest", capacity=1_000_000)
    hub = community.hub
    now = timezone.now()
    # 2,000 members, already known after the first batch: the steady state of a busy hub.
    batches = [
        [
            {
                "type": "message" if n % 4 else "reaction",
                "group": hub.pk,
                "user_id": f"u{n % 2000}",
                "occurred_at": (now - timedelta(seconds=batch * BATCH + n)).isoformat(),
                "event_id": f"b{batch}-{n}",
            }
            for n in range(BATCH)
        ]
        for batch in range(API_BATCHES + 1)
    ]
    first = client.post("/api/v1/events/", {"events": batches[0]}, content_type="application/json")
    assert first.status_code == 200, first.content
    elapsed = 0.0
    for events in batches[1:]:
        started = time.perf_counter()
        response = client.post("/api/v1/events/", {"events": events}, content_type="application/json")
        elapsed += time.perf_counter() - started
        assert response.status_code == 200 and response.json()["accepted"] == BATCH, response.content
    api_rate = API_BATCHES * BATCH / elapsed

    stored = list(
        Event.objects.filter(community=community).values(
            "community_id", "group_id", "member_id", "kind", "occurred_at", "day", "external_id"
        )[: API_BATCHES * BATCH]
    )
    frame = pd.DataFrame.from_records(stored)
    frame["external_id"] = "copy-" + frame["external_id"]
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    copy_seconds = _seconds(lambda: events_copy(frame))
    return {
        "ingest_api_events_per_s": round(api_rate),
        "ingest_copy_events_per_s": round(len(frame) / copy_seconds),
        "ingest_api_share_of_copy": round(api_rate / (len(frame) / copy_seconds), 3),
    }


def _group_by_seconds(community_id: int) -> float:
    """The baseline: one GROUP BY over the community's events, counted on the server."""

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM (SELECT member_id, group_id, day, kind, COUNT(*) FROM analytics_event "
                "WHERE community_id = %s GROUP BY member_id, group_id, day, kind) AS rollup",
                [community_id],
            )
            cursor.fetchone()

    run()  # warm the cache the way the metric run finds it
    return statistics.median(_seconds(run) for _ in range(3))


def analytics_figures(client: Client, services) -> dict[str, object]:
    from analytics.models import Event, MemberMetric
    from analytics.services.ingest import events_ingest
    from analytics.services.metrics import metrics_compute
    from analytics.services.synthetic import activity_generate

    figures: dict[str, object] = {"analytics_members": MEMBERS, "analytics_events_target": EVENTS}
    figures.update(_ingestion(client, services))
    _say(figures)

    community = services.community_create(name="分析基准社群", slug="bench-analytics", capacity=1_000_000)
    from subgroups.models import GroupKind

    for index in range(12):
        services.group_create_child(
            parent=community.hub,
            slug=f"g{index}",
            name=f"分析基准社群-兴趣小群{index + 1:02d}",
            kind=GroupKind.INTEREST,
            capacity=1_000_000,
        )
    started = time.perf_counter()
    made = activity_generate(community=community, members=MEMBERS, days=90, seed=7, events_target=EVENTS)
    figures["analytics_generate_s"] = round(time.perf_counter() - started, 1)
    figures["analytics_events"] = made["events"]
    if POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE analytics_event")

    full = _seconds(lambda: metrics_compute(community=community, full=True))
    group_by = _group_by_seconds(community.pk)
    figures["metrics_full_s"] = round(full, 2)
    figures["metrics_group_by_s"] = round(group_by, 2)
    figures["metrics_full_vs_group_by"] = round(full / group_by, 2)
    _say({key: figures[key] for key in ("analytics_events", "metrics_full_s", "metrics_group_by_s")})
    assert MemberMetric.objects.filter(community=community).count() >= MEMBERS

    # 10,000 late events over the last three days, through the service, then the incremental run.
    now = timezone.now()
    handles = list(
        community.hub.memberships.values_list("member__handles__platform", "member__handles__external_id")[:5000]
    )
    late = [
        {
            "type": "message",
            "group": community.hub_id,
            "platform": handles[n % len(handles)][0],
            "user_id": handles[n % len(handles)][1],
            "occurred_at": (now - timedelta(minutes=n % (3 * 24 * 60))).isoformat(),
            "event_id": f"late-{n}",
        }
        for n in range(10_000)
    ]
    for start in range(0, len(late), BATCH):
        events_ingest(raw_events=late[start : start + BATCH], groups=[community.hub], scan=False)
    figures["metrics_incremental_s"] = round(_seconds(lambda: metrics_compute(community=community)), 2)
    figures["events_stored"] = Event.objects.filter(community=community).count()

    from bench.run import page_figures

    figures["analytics_overview_page"] = page_figures(client, f"/c/{community.slug}/analytics/")
    figures["analytics_members_page"] = page_figures(client, f"/c/{community.slug}/analytics/members/")
    return figures
