"""Exactly once under a crash: a real Celery worker on Redis is SIGKILLed while it pushes recall
messages to a webhook, and a fresh worker finishes the job.

The sweep commits its claim (a lease) before it posts anything, so the killed worker's messages
stay leased; once the lease runs out (2 s here), the next sweep posts them again with the same
``X-Canopy-Delivery`` id. So: nothing is lost, every member gets one attempt and one message, and
a receiver that drops delivery ids it has seen gets each message once. The copies the receiver
does see are the killed worker's last posts: those in flight at the kill, and those it had not
yet recorded (``webhook_deliver_due`` records deliveries a few at a time as the posts return).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery.result import AsyncResult
from django.conf import settings
from django.db import connection
from django.db.models import Min, QuerySet
from django.utils import timezone

from community.celery import app as celery_app
from outbox import services as outbox
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from recall.models import AttemptStatus, Channel, RecallAttempt
from recall.services import policies
from recall.tasks import dispatch_due, recall_community
from tests.recall.conftest import local, silent_member

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

MEMBERS = 300
LEASE_SECONDS = 2
RESPONSE_DELAY = 0.04  # per request: 300 posts over 8 connections take about 1.5 s, time to kill in
TASK_TIMEOUT = 120  # a cold worker on a busy 2-core machine is slow to start
FINISH_TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """A slow local webhook endpoint that records every delivery id it is sent, in order."""

    def __init__(self, delay: float) -> None:
        self.secret = ""
        self.deliveries: list[str] = []
        self.bad_signatures = 0
        # http.client writes a request's headers and its body separately: a worker killed between
        # the two leaves headers and no body, which no signature can match (seen once, in a full
        # run with the other test worker busy beside it).
        self.cut_short: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                complete = len(body) == length
                signed = complete and outbox.verify(
                    receiver.secret, self.headers["X-Canopy-Timestamp"], body, self.headers["X-Canopy-Signature"]
                )
                with receiver._lock:  # recorded on arrival: a post the worker dies waiting on counts
                    receiver.deliveries.append(self.headers["X-Canopy-Delivery"])
                    if complete:
                        receiver.bad_signatures += not signed
                    else:
                        receiver.cut_short.append(self.headers["X-Canopy-Delivery"])
                time.sleep(delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the worker was killed while we slept

            def log_message(self, *args) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 64  # the default 5 could refuse eight connections opened at once
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.deliveries)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """``celery worker`` in its own process, consuming one queue, on the test database."""

    def __init__(self, queue: str, log: Path) -> None:
        db = connection.settings_dict
        password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CANOPY_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
            "CANOPY_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on 127.0.0.1
        }
        self.log = log
        command = [
            str(Path(sys.executable).with_name("celery")),
            *("-A", "community", "worker", "-P", "solo", "--concurrency", "1", "-Q", queue),
            *("-n", f"{log.stem}-{queue}@%h", "--loglevel", "INFO"),
            # No waiting on other workers at start-up: this one is alone on its queue.
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]
        with log.open("wb") as output:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def _result(task: AsyncResult, worker: Worker) -> dict:
    """The task's result; fails at once, with the worker's log, if the worker dies instead."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while not task.ready():
        assert worker.alive(), f"the worker died:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"no result after {TASK_TIMEOUT} s:\n{worker.tail()}"
        time.sleep(0.02)
    return task.get(timeout=TASK_TIMEOUT)


def _forget(queue: str) -> None:
    """Leave Redis as we found it. The killed worker's task was never acknowledged: kombu would
    put it back on this queue after its visibility timeout (an hour) for nobody to take. And the
    dispatcher's own ``deliver_due.delay`` went to the default queue, which no worker here reads."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for tag, raw in client.hscan_iter("unacked"):
        _message, exchange, routing_key = json.loads(raw)
        if queue in (exchange, routing_key):
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    stale = list(client.scan_iter(match=f"*{queue}*"))  # the queue and kombu's bindings of it
    if stale:
        client.delete(*stale)
    celery_app.control.purge()


def _recall_messages(community) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(community=community, kind=MessageKind.RECALL)


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_each_message_once(community, design, tmp_path):
    quiet_since = local(timezone.now() - timedelta(days=40), 12)
    policy = policies.policy_save(community=community, name="Crash test", quiet_start=None, quiet_end=None)
    policies.stage_save(
        policy=policy,
        name="Private message",
        days_silent=30,
        channel=Channel.PLATFORM,
        template="Hi {name}, we miss you in {community}: {link}",
    )
    for number in range(MEMBERS):
        silent_member(design, quiet_since, platform_id=f"wx-crash-{number}")
    receiver = Receiver(RESPONSE_DELAY)
    integration = outbox.integration_create(community=community, name="Webhook", webhook_url=receiver.url)
    receiver.secret = integration.secret

    queue = f"recall-crash-{uuid.uuid4().hex[:12]}"
    workers = [Worker(queue, tmp_path / "worker-1.log")]
    try:
        # Plan and queue the messages: one attempt and one outbox row per member.
        planned = _result(recall_community.apply_async(args=[community.pk], queue=queue), workers[0])
        assert planned.get("planned") == MEMBERS and planned.get("sent_platform") == MEMBERS, planned

        # Deliver, and kill the worker a third of the way through the batch.
        dispatch_due.apply_async(queue=queue)
        deadline = time.monotonic() + TASK_TIMEOUT
        while len(receiver.seen()) < MEMBERS // 3:
            assert workers[0].alive(), f"the worker died on its own:\n{workers[0].tail()}"
            assert time.monotonic() < deadline, f"no deliveries:\n{workers[0].tail()}"
            time.sleep(0.005)
        workers[0].kill()
        time.sleep(0.2)  # posts already on the wire reach the receiver
        before_restart = receiver.seen()
        delivered_at_kill = _recall_messages(community).filter(status=MessageStatus.DELIVERED).count()
        assert len(set(before_restart)) < MEMBERS and delivered_at_kill < MEMBERS, "killed too late to prove anything"

        # A fresh worker sweeps again whenever the earliest lease (or retry wait) is over.
        workers.append(Worker(queue, tmp_path / "worker-2.log"))
        deadline = time.monotonic() + FINISH_TIMEOUT
        while True:
            _result(dispatch_due.apply_async(queue=queue), workers[-1])
            waiting = _recall_messages(community).exclude(status=MessageStatus.DELIVERED)
            if not waiting.exists():
                break
            assert time.monotonic() < deadline, (
                f"{waiting.count()} messages undelivered after {FINISH_TIMEOUT} s:\n{workers[-1].tail()}"
            )
            due = waiting.aggregate(due=Min("available_at"))["due"]
            time.sleep(min(max((due - timezone.now()).total_seconds(), 0) + 0.05, 5))
    finally:
        for worker in workers:
            worker.kill()
        receiver.close()
        _forget(queue)

    attempts = list(RecallAttempt.objects.filter(community=community).values_list("pk", "member_id", "message_id"))
    assert len(attempts) == MEMBERS and len({member for _pk, member, _message in attempts}) == MEMBERS
    assert not RecallAttempt.objects.filter(community=community).exclude(status=AttemptStatus.SENT).exists()
    messages = dict(_recall_messages(community).values_list("pk", "dedupe_key"))
    assert len(messages) == MEMBERS
    assert {message for _pk, _member, message in attempts} == set(messages), "one message per attempt"
    assert sorted(messages.values()) == sorted(f"recall:{pk}" for pk, _member, _message in attempts)
    assert _recall_messages(community).filter(status=MessageStatus.DELIVERED).count() == MEMBERS

    received = receiver.seen()
    copies = Counter(received)
    duplicates = len(received) - len(copies)
    print(
        f"\nkilled after {len(before_restart)} posts ({delivered_at_kill} marked delivered); "
        f"received {len(received)} requests for {len(copies)} messages: {duplicates} duplicates, "
        f"{len(receiver.cut_short)} cut short by the kill"
    )
    assert set(copies) == {str(pk) for pk in messages}, "every message reached the receiver, nothing else did"
    assert receiver.bad_signatures == 0
    # A body cut off by the kill cannot be verified; only the killed worker's posts may end so.
    assert set(receiver.cut_short) <= set(before_restart)
    # Only the killed worker's posts come again, and only once: the fresh worker posted each
    # pending message one time. And only the few it had not recorded yet: the posts in flight
    # (one per connection) and those waiting for the next UPDATE of delivered messages.
    repeated = {delivery for delivery, count in copies.items() if count > 1}
    assert repeated <= set(before_restart) and max(copies.values()) <= 2
    assert duplicates <= 8 + outbox.SETTLE_EVERY  # deliver_due posts over 8 connections
