"""Engagement's Celery tasks: thin wrappers that load by id and call the services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from engagement.services.sweeps import sweeps_run
from subgroups.models import Community

# Beat looks at the events received in the last two days: far more than any delay between an
# event's arrival and the next sweep, and a bounded read however long the history.
SWEEP_LOOKBACK = timedelta(days=2)


@shared_task
def sweeps_all() -> int:
    """Beat: one sweep task per community."""
    ids = list(Community.objects.values_list("pk", flat=True))
    for community_id in ids:
        sweeps_community.delay(community_id)
    return len(ids)


@shared_task
def sweeps_community(community_id: int, full: bool = False) -> dict:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return {}
    return sweeps_run(community, since=None if full else timezone.now() - SWEEP_LOOKBACK)
