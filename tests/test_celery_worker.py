"""A real Celery worker, consuming from Redis, runs the periodic tree check end to end."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from community.celery import app as celery_app
from subgroups import selectors
from subgroups.tasks import check_trees

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_worker(transactional_db):
    assert not celery_app.conf.task_always_eager, "REDIS_URL is set, so tasks must go through the broker"
    celery_app.loader.import_module("celery.contrib.testing.tasks")  # registers celery.ping
    celery_app.control.purge()  # tasks queued by earlier tests refer to rows long gone
    with start_worker(celery_app, pool="solo", perform_ping_check=True, shutdown_timeout=10) as worker:
        yield worker


def test_the_worker_finds_and_repairs_a_damaged_tree(real_worker, community, other_community):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE subgroups_group SET lft = lft + 3 WHERE community_id = %s", [community.pk])
    assert selectors.tree_problems()

    result = check_trees.delay().get(timeout=60)

    assert result["problems"] > 0 and result["communities"] == [community.pk] and result["repaired"] is True
    assert selectors.tree_problems() == []


def test_a_sound_forest_is_left_alone(real_worker, community):
    assert check_trees.delay().get(timeout=60) == {"problems": 0, "communities": [], "repaired": False}
