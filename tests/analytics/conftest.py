"""The permission personas (tests/personas.py) for the analytics tests."""

import pytest

from tests.personas import (  # noqa: F401 - fixtures
    coders,
    design,
    owner,
    personas,
    photo,
    plain_member,
    sibling_admin,
    subtree_admin,
)


@pytest.fixture
def eager_tasks():
    """Run tasks in-process even when REDIS_URL points at a broker: for page tests that start
    work and look at its result. The real worker has its own tests (test_worker.py)."""
    from community.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
