"""A real Celery worker, consuming from Redis, runs the analytics pipeline end to end: the beat
entry point fans out one task per community, the task rolls up and scores everything."""

import pytest
from django.utils import timezone

from analytics.models import CommunityDay, GroupDay, MemberMetric
from analytics.services.ingest import events_ingest
from analytics.tasks import compute_all, compute_community
from tests.test_celery_worker import real_worker  # noqa: F401 - fixture

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_the_worker_computes_a_communitys_numbers(real_worker, community, other_community):  # noqa: F811
    events_ingest(
        raw_events=[
            {
                "type": "message",
                "group": community.hub_id,
                "user_id": f"u{n}",
                "occurred_at": timezone.now().isoformat(),
                "event_id": f"e{n}",
            }
            for n in range(30)
        ],
        groups=[community.hub],
    )
    assert compute_all.delay().get(timeout=60) == 2
    report = compute_community.delay(community.pk).get(timeout=120)
    assert report["community"] == community.slug and not report["skipped"]
    assert MemberMetric.objects.filter(community=community).count() == 30
    today = GroupDay.objects.filter(group=community.hub).order_by("-day").first()
    assert today.active_members == 30 and today.speakers == 30
    assert CommunityDay.objects.filter(community=community).exists()
