"""`make bench`: Canopy's speed figures, printed as a table and written to bench/results.json.

It runs in a throw-away test database on whatever DATABASE_URL points at (SQLite by default;
PostgreSQL for figures that mean something in production). Nothing here asserts a speed: the
figures are for reading and comparing between commits.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

GROUPS = int(os.environ.get("BENCH_GROUPS", "300"))
THREADS = 8
RESULTS = ROOT / "bench" / "results.json"


def timed(work: Callable[[], object], *, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return samples


def build_tree(services, GroupKind, hub) -> float:
    """GROUPS sub-groups, three levels deep, through the locking services. Returns groups/s."""
    started = time.perf_counter()
    parents = [hub]
    created = 0
    while created < GROUPS:
        next_parents = []
        for parent in parents:
            for _ in range(6):
                if created >= GROUPS:
                    break
                child = services.group_create_child(parent=parent, name=f"小群{created:04d}", kind=GroupKind.CUSTOM)
                next_parents.append(child)
                created += 1
        parents = next_parents or parents
    return GROUPS / (time.perf_counter() - started)


def concurrent_creates(services, Group, GroupKind, hub_id: int) -> float:
    """THREADS threads adding 25 children each under one hub at once. Returns groups/s."""
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> None:
        barrier.wait()
        for number in range(25):
            services.group_create_child(
                parent=Group.objects.get(pk=hub_id), name=f"并发{index}-{number}", kind=GroupKind.INTEREST
            )
        connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return THREADS * 25 / (time.perf_counter() - started)


def page_figures(client: Client, url: str) -> dict[str, float]:
    client.get(url)  # warm caches and templates
    connection.queries_log.clear()  # request_started clears the log; start from empty
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    samples = timed(lambda: client.get(url), repeat=15)
    return {"median_ms": round(1000 * statistics.median(samples), 2), "queries": len(queries)}


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from django.contrib.auth import get_user_model

        from subgroups import selectors, services
        from subgroups.models import Group, GroupKind

        community = services.community_create(name="基准测试社群", slug="bench", capacity=100_000)
        figures: dict[str, object] = {}
        figures["tree_create_groups_per_s"] = round(build_tree(services, GroupKind, community.hub), 1)
        if connection.vendor == "postgresql":
            figures["tree_create_concurrent_groups_per_s"] = round(
                concurrent_creates(services, Group, GroupKind, community.hub_id), 1
            )
        figures["tree_consistent"] = selectors.tree_problems() == []

        admin = get_user_model().objects.create_superuser("bench", password="bench-bench-bench")
        client = Client()
        client.force_login(admin)
        size = Group.objects.filter(community=community).count()
        figures["groups_in_tree"] = size
        figures["tree_page"] = page_figures(client, f"/c/{community.slug}/tree/")
        figures["api_tree"] = page_figures(client, f"/api/v1/groups/{community.hub_id}/tree/")
        figures["api_mermaid"] = page_figures(client, f"/api/v1/groups/{community.hub_id}/mermaid/")
        figures["check_tree_ms"] = round(1000 * statistics.median(timed(selectors.tree_problems, repeat=5)), 2)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "figures": figures,
    }
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"\nCanopy bench · {result['database']} · {result['cpus']} CPUs · {result['when']}\n")
    print(f"{'figure':<44}{'value':>16}")
    print("-" * 60)
    for name, value in figures.items():
        if isinstance(value, dict):
            print(f"{name + ' (median server time)':<44}{value['median_ms']:>13} ms")
            print(f"{name + ' (queries)':<44}{value['queries']:>16}")
        else:
            print(f"{name:<44}{value!s:>16}")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
