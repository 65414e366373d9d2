"""Shared fixtures: the three personas, API clients, and the real services.

``REQUIRE_SERVICES=1`` (set by CI) makes a missing PostgreSQL, Redis or chromium fail the run
instead of skipping the tests that need them, and turns any skip into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import CommunityFactory, GroupFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"


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
    # A shared Redis must not carry throttle counts or cached values from one run to the next.
    settings.CACHES["default"]["KEY_PREFIX"] = f"canopy-test-{os.getpid()}"
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


def pytest_collection_modifyitems(config, items):
    postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    redis_problem = _redis_problem()
    for item in items:
        if "postgres" in item.keywords and not postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…"))
        if "redis" in item.keywords and redis_problem:
            item.add_marker(pytest.mark.skip(reason=f"needs Redis: {redis_problem}"))
        if "browser" in item.keywords and not shutil.which(CHROMIUM):
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium"))


# --- Personas -------------------------------------------------------------------------------


@pytest.fixture
def community(db):
    """The community under test: a hub with two interest groups, one with a child."""
    community = CommunityFactory(name="互联网从业者交流群", slug="internet")
    design = GroupFactory(parent=community.hub, name="设计美学交流群")
    GroupFactory(parent=community.hub, name="程序员技术群")
    GroupFactory(parent=design, name="摄影群")
    return community


@pytest.fixture
def other_community(db):
    community = CommunityFactory(name="新能源汽车车主群", slug="ev")
    GroupFactory(parent=community.hub, name="北京车友群", kind="region")
    return community


@pytest.fixture
def operator(community):
    """A user who runs ``community`` (and nothing else)."""
    return UserFactory(username="operator", operator_of=[community])


@pytest.fixture
def outsider(other_community):
    """A user who runs another community: sees nothing of ``community``."""
    return UserFactory(username="outsider", operator_of=[other_community])


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
