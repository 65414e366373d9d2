"""Grouping's Celery tasks: thin wrappers that load by id and call the services."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Exists, OuterRef

from grouping.models import NeedsSurvey
from grouping.services.recommend import recommendations_train
from grouping.services.suggestions import suggestions_refresh
from subgroups.models import Community, Group, GroupKind, GroupStatus


@shared_task
def grouping_all() -> int:
    """Beat, nightly: retrain and refresh every community with interest sub-groups or a survey,
    each in its own task."""
    interest = Group.objects.filter(community=OuterRef("pk"), kind=GroupKind.INTEREST).exclude(
        status=GroupStatus.ARCHIVED
    )
    survey = NeedsSurvey.objects.filter(community=OuterRef("pk"))
    ids = list(Community.objects.filter(Exists(interest) | Exists(survey)).values_list("pk", flat=True))
    for community_id in ids:
        grouping_refresh.delay(community_id)
    return len(ids)


@shared_task
def grouping_refresh(community_id: int) -> dict:
    """Retrain the recommendations, then bring the suggestions in line (the model's picks join
    them). The "Retrain" button runs this too."""
    community = Community.objects.select_related("hub").filter(pk=community_id).first()
    if community is None:
        return {}
    run = recommendations_train(community=community)
    result = {"run": run.pk, "status": run.status}
    result.update(suggestions_refresh(community=community))
    return result
