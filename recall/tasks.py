"""Recall's Celery tasks: thin wrappers that load by id and call the services."""

from celery import shared_task

from outbox.services import webhook_deliver_due
from recall.models import RecallPolicy
from recall.services import dispatch, engine
from subgroups.models import Community


@shared_task
def recall_all() -> int:
    """Beat: one run per community that has an active policy, each its own task."""
    ids = list(RecallPolicy.objects.filter(is_active=True).values_list("community_id", flat=True).distinct())
    for community_id in ids:
        recall_community.delay(community_id)
    return len(ids)


@shared_task
def recall_community(community_id: int) -> dict:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return {}
    result = engine.recall_run(community=community)
    result.update(dispatch.attempts_dispatch(community_id=community_id))
    return result


@shared_task
def dispatch_due() -> dict:
    """Beat: send every due attempt (those planned in quiet hours, retries, expired leases),
    then push the private messages through the webhooks."""
    result = dict(dispatch.attempts_dispatch())
    while True:
        outcome = webhook_deliver_due(limit=500)
        result["webhooks_delivered"] = result.get("webhooks_delivered", 0) + outcome.get("delivered", 0)
        if outcome["claimed"] < 500:
            break
    return result
