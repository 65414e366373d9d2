"""A fault test in the production shape: Canopy under gunicorn on a private PostgreSQL, four bots
pushing the same chat into it (each retrying its batch until it is answered), and the database
stopped hard and started again in the middle. Nothing may be lost or stored twice, no answer
may be a 500, and every spam line must end up flagged once with one recall instruction: the
outage answers 503 with Retry-After, and scanning is part of storing, so a retried batch is
scanned if its first try was not stored.

The private cluster (initdb under the postgres user) gets the suite database's schema with
pg_dump; the suite's own PostgreSQL is never stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import requests
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(f"/usr/lib/postgresql/{os.environ.get('PG_MAJOR', '15')}/bin")
CHAT = "wrFaultChat01"
BOTS, BATCHES, PER_BATCH = 4, 30, 5
SPAM = "低息私人贷款，加我"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, **kwargs)


class PrivatePostgres:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="canopy-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "canopy")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/canopy"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", str(self.dir / "log"), "start"
        )

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg2.connect(self.url) as db, db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def _env(url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "CANOPY_ENV", "DEBUG")}
    # Development settings on the private database, without DEBUG (whose error page would hide how
    # Canopy answers a fault); no broker, so follow-up work runs in-process.
    return {
        **env,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "community.settings",
        "PYTHONPATH": str(ROOT),
    }


SEED = f"""
import django; django.setup()
from django.contrib.auth import get_user_model
from content.services import lexicon
from outbox.keys import BRIDGE_SCOPES, key_create
from outbox.services import integration_create
from subgroups import services
community = services.community_create(name="故障演练社群", slug="faults", platform="wecom", capacity=100000,
                                      external_id="{CHAT}")
lexicon.word_add(community=community, word="私人贷款", category="custom", action="block")
integration = integration_create(community=community, name="bots", platform="wecom")
print(key_create(integration=integration, name="bot", scopes=BRIDGE_SCOPES).secret)
"""


@pytest.fixture
def world():
    """The private database with the suite's schema, a community, a key, and gunicorn on it."""
    server = PrivatePostgres()
    web = None
    try:
        source = connection.settings_dict
        schema = subprocess.run(
            [
                str(PG_BIN / "pg_dump"),
                "--schema-only",
                "--no-owner",
                "-h",
                source["HOST"] or "127.0.0.1",
                "-p",
                str(source["PORT"] or 5432),
                "-U",
                source["USER"] or "postgres",
                source["NAME"],
            ],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", server.url], input=schema, check=True, capture_output=True
        )
        env = _env(server.url)
        key = subprocess.run(
            [sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        port = _free_port()
        # Its log goes to a file: a pipe nobody reads fills up and stalls every request that logs.
        log = (server.dir / "gunicorn.log").open("wb")
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "community.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "30",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code in (200, 503):
                    break
            except requests.RequestException:
                pass  # still starting
            assert web.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        # Warm every worker up (the first request imports the URLconf and the views).
        warm = requests.Session()
        warm.headers["Authorization"] = f"Bearer {key}"
        for _ in range(8):
            assert warm.get(f"{base}/api/v1/groups/", timeout=60).status_code == 200
        yield server, base, key
    finally:
        if web is not None:
            web.kill()
            web.wait(timeout=20)
        server.remove()


def _batches() -> list[list[dict]]:
    """The chat all four bots saw: the same event ids for everyone, one spam line per batch."""
    start = datetime.now(UTC) - timedelta(hours=1)
    batches = []
    for b in range(BATCHES):
        events = []
        for i in range(PER_BATCH):
            n = b * PER_BATCH + i
            events.append(
                {
                    "event_id": f"wecom:{CHAT}:msg:{n}",
                    "type": "message",
                    "group_platform": "wecom",
                    "group_external_id": CHAT,
                    "user_id": f"wm-user-{n % 9}",
                    "occurred_at": (start + timedelta(seconds=n)).isoformat(),
                    "text": SPAM if i == 3 else f"第 {n} 条消息",
                }
            )
        batches.append(events)
    return batches


def _bot(base: str, key: str, batches: list[list[dict]], answers: list[int], stop_at: float) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    for batch in batches:
        while time.monotonic() < stop_at:
            try:
                response = session.post(f"{base}/api/v1/events/", json={"events": batch}, timeout=30)
            except requests.RequestException as error:
                answers.append(type(error).__name__)  # no answer at all: the test fails on it
                time.sleep(0.2)
                continue
            answers.append(response.status_code)
            if response.status_code == 200:
                break
            time.sleep(0.2)
        time.sleep(0.1)  # chat arrives at chat speed: the outage falls in the middle


def test_four_bots_through_a_database_restart_lose_nothing_and_store_nothing_twice(world):
    server, base, key = world
    batches = _batches()
    answers: list[list[int]] = [[] for _ in range(BOTS)]
    stop_at = time.monotonic() + 120
    bots = [
        threading.Thread(target=_bot, args=(base, key, batches[bot % 2 :] + batches[: bot % 2], answers[bot], stop_at))
        for bot in range(BOTS)
    ]
    for thread in bots:
        thread.start()
    # Stop the database hard while the bots are mid-way, then bring it back.
    deadline = time.monotonic() + 30
    while server.query("SELECT count(*) FROM analytics_event")[0][0] < PER_BATCH * 2:
        assert time.monotonic() < deadline, "the bots never got going"
        time.sleep(0.05)
    server.stop()
    time.sleep(3)
    server.start()
    for thread in bots:
        thread.join(timeout=150)

    seen = {code for bot in answers for code in bot}
    assert seen <= {200, 503}, answers  # an outage is a 503, never a 500
    assert 503 in seen, "the database stop was never noticed: the test proved nothing"
    assert all(bot and bot[-1] == 200 for bot in answers)
    events = server.query("SELECT count(*), count(DISTINCT external_id) FROM analytics_event")[0]
    assert events == (BATCHES * PER_BATCH, BATCHES * PER_BATCH)  # nothing lost, nothing twice
    flags = server.query("SELECT count(*), count(DISTINCT external_message_id) FROM content_moderationflag")[0]
    assert flags == (BATCHES, BATCHES)  # every spam line flagged, once
    instructions = server.query("SELECT count(*) FROM outbox_outboundmessage WHERE kind = 'instruction'")[0][0]
    assert instructions == BATCHES
