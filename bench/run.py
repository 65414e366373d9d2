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
WORDS = int(os.environ.get("BENCH_WORDS", "10000"))
TEXT_CHARS = 200_000
REGEX_CHARS = 20_000
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


def word_engine() -> dict[str, object]:
    """The sensitive-word engine against a regex alternation of the same 10,000 words.

    Both run on the same normalised text (the regex could not see through evasions anyway),
    so the comparison is matching speed alone. The regex is timed on a slice: it is too slow
    for the whole text. Every regex match must also be one the automaton reports.
    """
    import random
    import re

    from content.words import Entry, Matcher, normalize

    rng = random.Random(7)
    alphabet = [chr(0x4E00 + offset) for offset in range(3000)]  # common CJK ideographs
    words: set[str] = set()
    while len(words) < WORDS:
        words.add("".join(rng.choice(alphabet) for _ in range(rng.choice((2, 3, 3, 4)))))
    ordered = sorted(words)
    listed = rng.sample(ordered, 500)
    pieces = []
    for index in range(TEXT_CHARS // 200):
        pieces.append("".join(rng.choice(alphabet) for _ in range(190)))
        word = listed[index % len(listed)]
        pieces.append(" ".join(word) if index % 3 == 0 else word)  # some written with spaces between
    text = "".join(pieces)

    started = time.perf_counter()
    matcher = Matcher(Entry(word, "custom", "review") for word in ordered)
    build = time.perf_counter() - started
    scan = min(timed(lambda: matcher.scan(text), repeat=3))
    normalized, _origin = normalize(text)
    match = min(timed(lambda: matcher.count(normalized), repeat=3))

    started = time.perf_counter()
    pattern = re.compile("|".join(re.escape(word) for word in sorted(ordered, key=len, reverse=True)))
    compile_time = time.perf_counter() - started
    sample = normalized[:REGEX_CHARS]
    regex = min(timed(lambda: sum(1 for _ in pattern.finditer(sample)), repeat=3))
    found = {(hit.start, hit.end) for hit in Matcher(Entry(word, "custom", "review") for word in ordered).scan(sample)}
    agree = all((m.start(), m.end()) in found for m in pattern.finditer(sample))
    return {
        "words_lexicon_size": len(ordered),
        "words_text_chars": len(text),
        "words_build_ms": round(1000 * build, 1),
        "words_scan_chars_per_s": round(len(text) / scan),
        "words_match_chars_per_s": round(len(normalized) / match),
        "words_regex_compile_ms": round(1000 * compile_time, 1),
        "words_regex_chars_per_s": round(len(sample) / regex),
        "words_speedup_vs_regex": round((len(normalized) / match) / (len(sample) / regex), 1),
        "words_regex_matches_found": agree,
    }


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
        figures.update(word_engine())
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

        from bench.analytics_bench import analytics_figures

        figures.update(analytics_figures(client, services))

        from bench.recall_bench import recall_figures

        figures.update(recall_figures(services))
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
