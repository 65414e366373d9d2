"""Lifecycle's Celery tasks: thin wrappers that load by id and call the engine."""

from celery import shared_task

from lifecycle.models import LifecycleRule
from lifecycle.services.engine import lifecycle_run
from subgroups.models import Community


@shared_task
def lifecycle_all() -> int:
    """Beat, daily: one run per community with an active rule, each its own task."""
    ids = list(LifecycleRule.objects.filter(is_active=True).values_list("community_id", flat=True).distinct())
    for community_id in ids:
        lifecycle_community.delay(community_id)
    return len(ids)


@shared_task
def lifecycle_community(community_id: int) -> dict:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return {}
    return lifecycle_run(community=community)
