"""Fission's Celery tasks: thin wrappers that load by id and call the services."""

from celery import shared_task
from django.db.models import F

from fission.services.referrals import referrals_credit
from members.models import Membership
from subgroups.models import Community


@shared_task
def credit_all() -> int:
    """Beat: one crediting run per community with referred memberships waiting for a verdict."""
    ids = list(
        Membership.objects.filter(
            invited_by__isnull=False, invited_by__community_id=F("group__community_id"), referral__isnull=True
        )
        .order_by()
        .values_list("group__community_id", flat=True)
        .distinct()
    )
    for community_id in ids:
        credit_community.delay(community_id)
    return len(ids)


@shared_task
def credit_community(community_id: int) -> dict:
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return {}
    return referrals_credit(community=community)
