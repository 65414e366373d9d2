"""Recall's Celery tasks: thin wrappers that load by id and call the services."""

from celery import shared_task

from outbox.tasks import deliver_due
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
    if result.get("sent_platform"):
        deliver_due.delay()  # the private messages go out now, not at the next sweep
    return result


@shared_task
def dispatch_due() -> dict:
    """Beat: send every due attempt (those planned in quiet hours, retries, expired leases),
    then push private messages through the webhooks for up to the outbox sweep's time budget
    (the outbox's own sweep carries on from there)."""
    result = dict(dispatch.attempts_dispatch())
    result["webhooks_delivered"] = deliver_due()
    return result
