"""The daily beat task: one run per community with an active rule, each its own task, by id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from lifecycle.models import LifecycleMove, TriggerKind
from lifecycle.selectors import next_run_at
from lifecycle.tasks import lifecycle_all, lifecycle_community
from tests.lifecycle.conftest import make_rule, student

pytestmark = pytest.mark.django_db


def test_beat_runs_every_community_with_an_active_rule(community, stages, other_community, eager_tasks):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=7)
    student(stages["newcomer"], joined=timezone.now() - timedelta(days=10))
    assert lifecycle_all.delay().get() == 1, "the other community has no rule: no task for it"
    assert LifecycleMove.objects.filter(community=community).count() == 1
    assert lifecycle_community.delay(community.pk).get().get("moved", 0) == 0
    assert lifecycle_community.delay(10**9).get() == {}


def test_the_run_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["lifecycle"]
    assert entry["task"] == "lifecycle.tasks.lifecycle_all" and isinstance(entry["schedule"], crontab)
    now = timezone.now()
    upcoming = next_run_at(now)
    assert now < upcoming <= now + timedelta(days=1) and upcoming.second == 0
