"""Shared fixtures: the three personas, API clients, and the real services.

``REQUIRE_SERVICES=1`` (set by CI) makes a missing PostgreSQL, Redis or chromium fail the run
instead of skipping the tests that need them, and turns any skip into a failure.

Speed (see the README's Development section): ``shared``, ``module_db`` and ``class_db`` let a
module or class build its data once, as Django's ``setUpTestData`` does; under pytest-xdist
every worker has its own test database and its own Celery queue, so two workers never take
each other's tasks; the longest work is scheduled first.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import translation
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subgroups.models import Community, Group
from tests.factories import CommunityFactory, GroupFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"
# How many cases the API fuzzer (and other property tests) try for each operation. `make test`
# (and CI) runs "suite", sized for the suite's ten-minute budget on two slow cores; `make fuzz`
# runs "thorough" (40), the strength it ran at before the budget; HYPOTHESIS_PROFILE=quick runs
# it lightly, for a look by hand while working on the API. The cases are derandomized: each
# profile tries the same ones on every run.
hypothesis_settings.register_profile("thorough", max_examples=40)
hypothesis_settings.register_profile("suite", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")))
hypothesis_settings.register_profile("quick", max_examples=8)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


def _redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis at {settings.REDIS_URL} does not answer: {error}"
    return None


def _service_problems() -> list[str]:
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    redis_problem = _redis_problem()
    if redis_problem:
        problems.append(redis_problem)
    if not shutil.which(CHROMIUM):
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
    return problems


def pytest_configure(config):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A test database need not survive a power cut: commits (transactional tests, the flush
        # after each) return without waiting for the WAL to reach the disk. Nothing else changes.
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
    # A shared Redis must not carry throttle counts or cached values from one run to the next.
    settings.CACHES["default"]["KEY_PREFIX"] = f"canopy-test-{os.getpid()}"
    # Each test process (an xdist worker, or the only one) queues its tasks on a queue of its own:
    # a real worker started by one process must not take tasks that point into another's database,
    # and a purge must not drop them. A `make worker` beside the suite is left alone too.
    from community.celery import app as celery_app

    celery_app.conf.task_default_queue = f"canopy-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    if REQUIRE_SERVICES:
        problems = _service_problems()
        if problems:
            pytest.exit("REQUIRE_SERVICES=1 but: " + "; ".join(problems), returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under REQUIRE_SERVICES=1, which allows no skips: {report.longrepr}"


# Each mark's service: its name, and what to do when it is missing.
SERVICES = {
    "postgres": ("PostgreSQL", "set DATABASE_URL=postgres://…"),
    "redis": ("Redis", "set REDIS_URL=redis://…"),
    "browser": ("chromium", f"apt-get install chromium chromium-driver for {CHROMIUM}"),
}


def _missing_services() -> dict[str, str]:
    """The marks whose service is not here, each with the reason its tests are skipped."""
    missing = {}
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing["postgres"] = SERVICES["postgres"][1]
    redis_problem = _redis_problem()
    if redis_problem:
        missing["redis"] = f"{SERVICES['redis'][1]} ({redis_problem})"
    if not shutil.which(CHROMIUM):
        missing["browser"] = SERVICES["browser"][1]
    return {mark: f"needs {SERVICES[mark][0]}: {hint}" for mark, hint in missing.items()}


@pytest.hookimpl(trylast=True)  # after pytest-django has put the plain database tests first
def pytest_collection_modifyitems(config, items):
    missing = _missing_services()
    for item in items:
        operation = getattr(item, "operation_label", None)
        if operation and item._id.params is None:
            # schemathesis 4 on pytest 9 gives every operation's test the same node id (pytest
            # builds it from `originalname`), and pytest-xdist's scope scheduling keys tests by
            # node id: all operations but one would silently not run. Name each by its operation.
            item._id = item._id.with_params(operation)
        for mark, reason in missing.items():
            if mark in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))
                break
    seen: set[str] = set()
    twins = {item.nodeid for item in items if item.nodeid in seen or seen.add(item.nodeid)}
    if twins:
        raise pytest.UsageError(f"tests share a node id, and pytest-xdist would run only one of each: {sorted(twins)}")
    # The longest work first (plain database tests, which pytest-django runs first anyway).
    items.sort(key=lambda item: next((n for n, p in enumerate(FIRST) if item.nodeid.startswith(p)), len(FIRST)))


# Under pytest-xdist (`make test`) the longest work starts first, so that none of it ends the run
# alone: the full demo (one class, built once: about two minutes of one worker), then the API fuzz.
FIRST = ("tests/test_demo.py::TestTheFullDemo::", "tests/api/test_schema.py::test_the_api_never_errors")
# Tests are handed to the workers module by module (or class by class: --dist loadscope), so that
# what a module builds once is built by one worker; the fuzz shares nothing and goes test by test.
SPREAD = ("tests/api/test_schema.py::test_the_api_never_errors",)


def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith(SPREAD) else super()._split_scope(nodeid)

    return Scheduling(config, log)


def pytest_terminal_summary(terminalreporter):
    """One line for a newcomer: what ran, and how many tests were skipped for which missing service."""
    stats = terminalreporter.stats
    if not any(stats.get(outcome) for outcome in ("passed", "failed", "error", "skipped")):
        return  # nothing ran (--collect-only)
    skipped = [report for report in stats.get("skipped", []) if report.when in ("setup", "call")]
    needs: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for name, _hint in SERVICES.values():
            if f"needs {name}:" in reason:
                needs[name] = needs.get(name, 0) + 1
    passed, failed = len(stats.get("passed", [])), len(stats.get("failed", [])) + len(stats.get("error", []))
    line = f"Canopy: {passed} passed, {failed} failed or in error, {len(skipped)} skipped"
    if needs:
        line += " (for a missing service: " + ", ".join(f"{count} need {name}" for name, count in needs.items())
        line += "; the README's Development section says how to run them)"
    terminalreporter.write_sep("-", line)


# --- Data built once per module -------------------------------------------------------------


@contextmanager
def _rolled_back(django_db_blocker):
    with django_db_blocker.unblock():
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
        vacuum()  # the full demo leaves a million dead rows behind


# PostgreSQL keeps the rows of a rolled-back transaction on disk until a VACUUM, and autovacuum
# may be off (it is on the project's machines). Every test rolls back what it wrote, so the
# tables grow dead rows that later queries read past: on a test database kept from earlier runs
# (--reuse-db) with a million of them, three of the fuzzer's operations took 47 s instead of 17 s.
VACUUM_EVERY = 100  # tests; a VACUUM of the test database takes about 0.2 s
_tests_since_vacuum = VACUUM_EVERY  # and once the database is set up, for one reused from an earlier run


def vacuum() -> bool:
    """VACUUM the test database on PostgreSQL, unless a transaction is open (a module's data)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    if not connection.settings_dict["NAME"].startswith("test_"):
        return False  # no test has set the database up yet: never touch the real one
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    global _tests_since_vacuum
    _tests_since_vacuum += 1
    if _tests_since_vacuum >= VACUUM_EVERY:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            if vacuum():
                _tests_since_vacuum = 0
    return result


def settled(value):
    """Return ``value`` from a module- or class-scoped fixture once its rows are written. This checks
    the deferred foreign keys of those rows now, once: otherwise every test's teardown checks them
    all again (Django's TestCase does so before each rollback; 6 s a test after the full demo).

    PostgreSQL checks each deferred key with a plan it keeps for the connection's life, made the
    first time the key was checked, when an earlier test's tables held a few rows: a sequential
    scan, run once for every row written here (the light demo's keys took 60 s instead of 2).
    Dropping the kept plans first has them made again for the tables as they are now."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DISCARD PLANS")
    connection.check_constraints()
    return value


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """An outer transaction around a module's tests, rolled back after its last one: what
    module-scoped fixtures build in it is there for every test of the module, and each test
    still runs in a savepoint of its own that is rolled back (Django's ``setUpTestData``).
    Only for modules whose tests are all plain ``django_db`` ones; hand model instances to the
    tests as copies (see tests/shared.py), so no test sees another's changes in memory."""
    with _rolled_back(django_db_blocker):
        yield


@pytest.fixture(scope="class")
def class_db(django_db_setup, django_db_blocker):
    """The same for the tests of one class (inside ``module_db`` when a module uses both)."""
    with _rolled_back(django_db_blocker):
        yield


# --- Personas -------------------------------------------------------------------------------
# Each test builds them, unless its module asks for the world to be built once
# (``pytestmark = pytest.mark.usefixtures("shared")``, or a module fixture that uses ``shared``):
# then these fixtures hand out the shared rows, read afresh from the database for every test.


def make_community():
    """The community under test: a hub with two interest groups, one with a child."""
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    design = GroupFactory(parent=community.hub, name="设计美学交流群")
    GroupFactory(parent=community.hub, name="程序员技术群")
    GroupFactory(parent=design, name="摄影群")
    return community


def make_other_community():
    community = CommunityFactory(name="新能源汽车车主群", slug="ev")
    GroupFactory(parent=community.hub, name="北京车友群", kind="region")
    return community


def make_operator(community):
    """A user who runs ``community`` (and nothing else)."""
    return UserFactory(username="operator", operator_of=[community])


def make_outsider(other_community):
    """A user who runs another community: sees nothing of ``community``."""
    return UserFactory(username="outsider", operator_of=[other_community])


@dataclass(frozen=True)
class Shared:
    """What ``shared`` built: for module fixtures that build on it (tests get fresh copies)."""

    community: Community
    other_community: Community
    groups: dict[str, Group]
    personas: dict[str, Any]


@pytest.fixture(scope="module")
def shared(module_db) -> Shared:
    """The community, the other community, the operator and the five personas, built once for
    the module: about 60 ms a test otherwise, more than many tests take. Each test still runs
    in a savepoint rolled back after it, so what one test writes, the next does not see."""
    from tests.personas import make_personas

    community = make_community()
    other_community = make_other_community()
    make_operator(community)
    personas = make_personas(community, make_outsider(other_community))
    groups = {group.name: group for group in Group.objects.filter(community=community)}
    return settled(Shared(community, other_community, groups, personas))


def shared_world(request) -> Shared | None:
    """The module's shared world, when the test's fixtures include it."""
    return request.getfixturevalue("shared") if "shared" in request.fixturenames else None


def shared_user(request, username: str):
    """A user of the shared world, read afresh; None when the module builds per test."""
    if shared_world(request) is None:
        return None
    return get_user_model().objects.get(username=username)


@pytest.fixture
def community(request, db):
    world = shared_world(request)
    return Community.objects.get(pk=world.community.pk) if world else make_community()


@pytest.fixture
def other_community(request, db):
    world = shared_world(request)
    return Community.objects.get(pk=world.other_community.pk) if world else make_other_community()


@pytest.fixture
def operator(request, community):
    return shared_user(request, "operator") or make_operator(community)


@pytest.fixture
def outsider(request, other_community):
    return shared_user(request, "outsider") or make_outsider(other_community)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def _token_client(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(operator) -> APIClient:
    return _token_client(operator)


@pytest.fixture
def outsider_api(outsider) -> APIClient:
    return _token_client(outsider)


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture(autouse=True)
def _english_by_default():
    """A request in Chinese leaves Chinese active in the thread; start every test in English."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test counts its own rate limits: a fresh key prefix, without flushing a shared Redis."""
    from uuid import uuid4

    from django.core.cache import caches

    cache = caches["default"]
    previous = cache.key_prefix
    cache.key_prefix = f"{previous}-{uuid4().hex[:12]}"
    yield
    cache.key_prefix = previous


@pytest.fixture
def eager_tasks():
    """Run tasks in-process even when REDIS_URL points at a broker: for page tests that start
    work and look at its result. Real workers have their own tests."""
    from community.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
