"""The beat entries of the programme point at tasks that do their work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from community.celery import app
from programme import tasks
from programme.models import RoundStatus, VotingRound
from programme.services import round_create

pytestmark = pytest.mark.django_db


def test_beat_runs_the_programme_tasks():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"programme.tasks.assess_last_month", "programme.tasks.close_due_rounds"} <= scheduled
    app.loader.import_default_modules()
    assert {"programme.tasks.assess_last_month", "programme.tasks.close_due_rounds"} <= set(app.tasks)


def test_the_hourly_task_closes_rounds_past_their_time(design, coders, eager_tasks):
    due = round_create(group=design, days=1, now=timezone.now() - timedelta(days=2))
    current = round_create(group=coders)
    assert tasks.close_due_rounds.delay().get() == 1
    assert VotingRound.objects.get(pk=due.pk).status == RoundStatus.CLOSED
    assert VotingRound.objects.get(pk=current.pk).status == RoundStatus.OPEN


def test_the_monthly_task_runs_without_staff(design, eager_tasks):
    assert tasks.assess_last_month.delay().get() == 0
