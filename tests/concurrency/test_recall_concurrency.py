"""Real concurrent connections on PostgreSQL against recall: planners racing for the same
silent members and the same coupons, dispatchers racing for the same attempts, webhook sweeps
racing for the same messages, and call outcomes recorded twice at once."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from outbox.models import Integration, MessageStatus, OutboundMessage
from outbox.services import webhook_deliver_due
from recall.models import AttemptStatus, Channel, Coupon, Notice, RecallAttempt, RecallCycle
from recall.services import dispatch, outcomes, policies
from recall.services.engine import policy_plan, recall_run
from subgroups.models import Group
from tests.concurrency.test_tree_concurrency import THREADS, run_at_once
from tests.recall.conftest import at_day, local, silent_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quiet_since():
    return local(timezone.now() - timedelta(days=45), 12)


@pytest.fixture
def design(community):
    return Group.objects.get(community=community, name="设计美学交流群")


@pytest.fixture
def setup(community, design, quiet_since):
    policy = policies.policy_default(community=community)
    policy.quiet_start = policy.quiet_end = None
    policy.save()
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="\n".join(f"C{n:03d}" for n in range(15)))
    members = [silent_member(design, quiet_since, platform_id=f"wx-{n}") for n in range(20)]
    return policy, pool, members


def test_planners_racing_reach_each_member_once_and_never_share_a_coupon(community, setup, quiet_since):
    policy, pool, members = setup
    now = at_day(quiet_since, 30)
    # Straight at the planner, past the community lock: the member locks and the unique
    # attempt are what keep it right.
    errors = run_at_once(lambda _index: policy_plan(policy=policy, now=now))
    assert errors == []
    assert RecallAttempt.objects.count() == len(members)
    assert RecallCycle.objects.count() == len(members)
    assert Counter(RecallAttempt.objects.values_list("member_id", flat=True)).most_common(1)[0][1] == 1
    given = list(Coupon.objects.filter(pool=pool, attempt__isnull=False).values_list("attempt_id", flat=True))
    assert len(given) == 15 == len(set(given)), "15 codes for 20 members: each code to one attempt"
    assert RecallAttempt.objects.filter(gift_note="coupon pool empty").count() == 5


def test_whole_runs_racing_do_the_work_once(community, setup, quiet_since):
    _policy, _pool, members = setup
    now = at_day(quiet_since, 30)
    results = []
    errors = run_at_once(lambda _index: results.append(recall_run(community=community, now=now)))
    assert errors == []
    assert sum(result.get("planned", 0) for result in results) == len(members)
    assert RecallAttempt.objects.count() == len(members)


def test_dispatchers_racing_send_each_attempt_once(community, setup, quiet_since):
    _policy, _pool, members = setup
    recall_run(community=community, now=at_day(quiet_since, 30))
    recall_run(community=community, now=at_day(quiet_since, 30, hour=11))  # nothing new
    # Stage 2, private messages, too: both channels race.
    errors = run_at_once(lambda _index: dispatch.attempts_dispatch(now=at_day(quiet_since, 30, hour=12), batch=3))
    assert errors == []
    assert Notice.objects.count() == len(members)
    assert RecallAttempt.objects.filter(status=AttemptStatus.SENT).count() == len(members)

    recall_run(community=community, now=at_day(quiet_since, 37))
    errors = run_at_once(lambda _index: dispatch.attempts_dispatch(now=at_day(quiet_since, 37, hour=12), batch=3))
    assert errors == []
    platform = RecallAttempt.objects.filter(channel=Channel.PLATFORM)
    assert platform.count() == len(members) and platform.filter(status=AttemptStatus.SENT).count() == len(members)
    assert OutboundMessage.objects.filter(dedupe_key__startswith="recall:").count() == len(members)


class CountingReceiver:
    def __init__(self):
        self.ids: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.ids.append(self.headers["X-Canopy-Delivery"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_webhook_sweeps_racing_deliver_each_message_once(community, setup, quiet_since):
    _policy, _pool, members = setup
    receiver = CountingReceiver()
    try:
        Integration.objects.create(community=community, name="bot", webhook_url=receiver.url)
        recall_run(community=community, now=at_day(quiet_since, 30))
        recall_run(community=community, now=at_day(quiet_since, 37))
        dispatch.attempts_dispatch(now=at_day(quiet_since, 37, hour=12))
        errors = run_at_once(lambda _index: webhook_deliver_due(limit=4, threads=2))
        assert errors == []
        while webhook_deliver_due(limit=50)["claimed"]:
            pass
        assert len(receiver.ids) == len(set(receiver.ids)) == len(members)
        assert OutboundMessage.objects.filter(status=MessageStatus.DELIVERED).count() == len(members)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_call_recorded_twice_at_once_is_recorded_once(community, setup, quiet_since):
    _policy, _pool, _members = setup
    for day in (30, 37, 60):
        recall_run(community=community, now=at_day(quiet_since, day))
        dispatch.attempts_dispatch(now=at_day(quiet_since, day, hour=12))
    call = RecallAttempt.objects.filter(channel=Channel.PHONE).first()
    callers = [get_user_model().objects.create(username=f"caller{n}") for n in range(THREADS)]
    done = []

    def record(index: int) -> None:
        try:
            outcomes.call_record(attempt=call, outcome="reached", note=f"by {index}", by=callers[index])
            done.append(index)
        except Exception:  # noqa: BLE001 - the losers are refused; counted below
            pass

    assert run_at_once(record) == []
    call.refresh_from_db()
    assert len(done) == 1, "the first outcome stands; the others are told it is recorded"
    assert call.call_outcome == "reached" and call.called_by_id == callers[done[0]].pk
