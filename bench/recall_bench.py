"""The recall figures of ``make bench``: one private message to each of BENCH_RECALL_ATTEMPTS
silent members (100,000 by default), timed through the three steps a real run takes:

- planning (``recall_run``): one attempt per member;
- dispatch (``attempts_dispatch``): one outbox row per attempt;
- delivery (``webhook_deliver_due`` in a loop, as the sweep runs it): one signed POST per row.

The webhook receiver runs in a process of its own, as a real integration would, checks every
signature and counts requests and distinct ``X-Canopy-Delivery`` ids: duplicates and bad
signatures must both be 0. BENCH_RECALL_DELIVERY_LIMIT and BENCH_RECALL_DELIVERY_THREADS (500
and 8) tune the delivery batches; the sweep clamps a batch to what its threads can post within
one lease (``outbox.services.batch_limit``: 40 with the default 60 s lease and 8 threads).

``python bench/recall_bench.py`` runs these figures alone, in their own throw-away database, and
puts them into bench/results.json beside the others.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import multiprocessing
import os
import secrets
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from django.db import connection
from django.utils import timezone

ATTEMPTS = int(os.environ.get("BENCH_RECALL_ATTEMPTS", "100000"))
DELIVERY_LIMIT = int(os.environ.get("BENCH_RECALL_DELIVERY_LIMIT", "500"))
DELIVERY_THREADS = int(os.environ.get("BENCH_RECALL_DELIVERY_THREADS", "8"))
BULK = 5000
FRESH_SECONDS = 300  # what outbox.services.verify allows
ROOT = Path(__file__).resolve().parent.parent


def _say(figures: dict[str, object]) -> None:
    """Print figures as they come: a large run takes minutes."""
    for name, value in figures.items():
        print(f"  {name}: {value}", flush=True)


def _receive(secret: str, ready: Connection) -> None:
    """The webhook endpoint (in its own process). It checks signatures with hmac itself rather
    than with outbox.services.verify, so the check does not share code with the signer."""
    lock = threading.Lock()
    counts = {"received": 0, "bad_signatures": 0}
    deliveries: set[str] = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers.get("X-Canopy-Timestamp", "")
            expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            good = hmac.compare_digest(f"sha256={expected}", self.headers.get("X-Canopy-Signature", "")) and (
                timestamp.isdigit() and abs(time.time() - int(timestamp)) <= FRESH_SECONDS
            )
            with lock:
                counts["received"] += 1
                counts["bad_signatures"] += not good
                deliveries.add(self.headers.get("X-Canopy-Delivery", ""))
            self._answer(200 if good else 401, b"")

        def do_GET(self) -> None:  # the bench reads the counts here when delivery is over
            with lock:
                numbers = {**counts, "distinct": len(deliveries)}
            self._answer(200, json.dumps(numbers).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 is too short a backlog for a pool of senders
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    ready.send(server.server_address[1])
    server.serve_forever()


def _silent_members(community, group, count: int) -> None:
    """``count`` members with a WeCom handle and an open membership, joined 400 days ago and
    never active since: all silent for the stage. Bulk inserts, not the services: this sets the
    scene, it is not what is timed."""
    from members.models import Member, Membership, MembershipSource, PlatformHandle

    long_ago = timezone.now() - timedelta(days=400)
    for start in range(0, count, BULK):
        members = Member.objects.bulk_create(
            Member(community=community, display_name=f"沉默成员{number:06d}", joined_at=long_ago)
            for number in range(start, min(count, start + BULK))
        )
        PlatformHandle.objects.bulk_create(
            PlatformHandle(community=community, member=member, platform=group.platform, external_id=f"wx-{member.pk}")
            for member in members
        )
        Membership.objects.bulk_create(
            Membership(member=member, group=group, source=MembershipSource.IMPORT, joined_at=long_ago)
            for member in members
        )


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else 0.0


def recall_figures(services) -> dict[str, object]:
    from outbox.models import Integration, MessageKind, MessageStatus, OutboundMessage
    from outbox.services import batch_limit, webhook_deliver_due
    from recall.models import Channel
    from recall.services import dispatch, engine, policies
    from recall.services.messages import link

    figures: dict[str, object] = {"recall_attempts_target": ATTEMPTS}
    community = services.community_create(name="召回基准社群", slug="bench-recall", capacity=1_000_000)
    policy = policies.policy_save(community=community, name="Bench", quiet_start=None, quiet_end=None)
    policies.stage_save(
        policy=policy,
        name="Private message",
        days_silent=30,
        channel=Channel.PLATFORM,
        template="Hi {name}, we have not heard from you for {days} days in {community}. {link}",
    )
    _silent_members(community, community.hub, ATTEMPTS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member, members_membership, members_platformhandle")

    secret = secrets.token_hex(32)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a database connection
    ready, child_end = context.Pipe(duplex=False)
    receiver = context.Process(target=_receive, args=(secret, child_end), daemon=True)
    receiver.start()
    try:
        if not ready.poll(60):
            raise RuntimeError("the webhook receiver did not start")
        url = f"http://127.0.0.1:{ready.recv()}/hook"
        # Inactive until dispatch is done: dispatch queues a delivery sweep on commit when a
        # webhook exists, which with no broker would run in-process inside the dispatch timing.
        Integration.objects.create(
            community=community, name="Bench webhook", webhook_url=url, secret=secret, is_active=False
        )

        link("warm-up")  # the first reverse() imports every URLconf: a one-off cost, not planning's
        started = time.perf_counter()
        planned = engine.recall_run(community=community)
        plan_seconds = time.perf_counter() - started
        figures["recall_attempts"] = planned.get("planned", 0)
        figures["recall_plan_s"] = round(plan_seconds, 2)
        figures["recall_plan_attempts_per_s"] = _rate(figures["recall_attempts"], plan_seconds)
        _say({key: figures[key] for key in ("recall_attempts", "recall_plan_s", "recall_plan_attempts_per_s")})

        started = time.perf_counter()
        sent = dispatch.attempts_dispatch(community_id=community.pk)
        dispatch_seconds = time.perf_counter() - started
        figures["recall_dispatched"] = sent.get("sent_platform", 0)
        figures["recall_dispatch_s"] = round(dispatch_seconds, 2)
        figures["recall_dispatch_attempts_per_s"] = _rate(figures["recall_dispatched"], dispatch_seconds)
        _say(
            {key: figures[key] for key in ("recall_dispatched", "recall_dispatch_s", "recall_dispatch_attempts_per_s")}
        )

        Integration.objects.filter(community=community).update(is_active=True)
        outcome: Counter = Counter()
        started = time.perf_counter()
        while True:
            step = webhook_deliver_due(limit=DELIVERY_LIMIT, threads=DELIVERY_THREADS)
            outcome.update(step)
            if not step["claimed"]:  # the sweep clamps its batches to what fits in a lease
                break
        delivery_seconds = time.perf_counter() - started
        with urllib.request.urlopen(url, timeout=30) as response:
            received = json.loads(response.read())
    finally:
        receiver.terminate()
        receiver.join(10)

    messages = OutboundMessage.objects.filter(community=community, kind=MessageKind.RECALL)
    figures.update(
        {
            "recall_delivery_batch": batch_limit(DELIVERY_LIMIT, DELIVERY_THREADS),
            "recall_delivery_threads": DELIVERY_THREADS,
            "recall_delivered": outcome["delivered"],
            "recall_delivery_s": round(delivery_seconds, 2),
            "recall_delivery_messages_per_s": _rate(outcome["delivered"], delivery_seconds),
            "recall_undelivered": messages.exclude(status=MessageStatus.DELIVERED).count(),
            "recall_webhook_received": received["received"],
            "recall_webhook_distinct": received["distinct"],
            "recall_webhook_duplicates": received["received"] - received["distinct"],
            "recall_webhook_bad_signatures": received["bad_signatures"],
        }
    )
    _say(
        {
            key: value
            for key, value in figures.items()
            if key.startswith(("recall_deliver", "recall_undeliver", "recall_webhook"))
        }
    )
    return figures


def main() -> None:
    from django.test.utils import setup_test_environment

    from subgroups import services

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        figures = recall_figures(services)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    # Beside the other figures of the last full `make bench`, replacing the recall ones.
    results = ROOT / "bench" / "results.json"
    stored = json.loads(results.read_text()) if results.exists() else {"figures": {}}
    stored["figures"] = {k: v for k, v in stored.get("figures", {}).items() if not k.startswith("recall_")}
    stored["figures"].update(figures)
    stored["recall_when"] = timezone.now().isoformat(timespec="seconds")
    results.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community.settings")
    import django

    django.setup()
    main()
