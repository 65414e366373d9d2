"""The engagement demo on generated activity: check-ins come from the generated events, the
shop has redemptions made through the rules, and no balance goes below zero."""

from __future__ import annotations

import random
import time

import pytest
from django.db.models import Sum

from analytics.models import Event, EventKind
from analytics.services.synthetic import activity_generate
from engagement.demo import SHOP, engagement_demo
from engagement.models import CheckIn, Level, OrganisedEvent, Redemption, RewardItem
from members.models import Member, PointsEntry
from tests.engagement.conftest import published_post

pytestmark = pytest.mark.django_db


def test_the_demo_fills_the_pages(community, photo):
    activity_generate(community=community, members=400, days=60, seed=5)
    author = Member.objects.filter(community=community, memberships__group=photo).first()
    published_post(photo, author, featured=True)
    started = time.perf_counter()
    summary = engagement_demo(community=community, rng=random.Random(7))
    elapsed = time.perf_counter() - started
    print(summary, f"{elapsed:.1f}s")
    pairs = Event.objects.filter(community=community, kind=EventKind.CHECK_IN).values("member_id", "day").distinct()
    assert CheckIn.objects.filter(community=community).count() == pairs.count() > 0
    assert PointsEntry.objects.filter(reason="check_in").count() == pairs.count()
    assert PointsEntry.objects.filter(reason="streak_bonus").exists()
    assert PointsEntry.objects.filter(key__startswith="featured:").count() == 1
    assert Level.objects.filter(community=community).order_by("threshold").first().name == "新人"
    assert RewardItem.objects.filter(community=community).count() == len(SHOP)
    assert Redemption.objects.filter(community=community).count() > 0
    assert OrganisedEvent.objects.filter(community=community).exists()
    balances = PointsEntry.objects.values("member_id").annotate(total=Sum("amount")).values_list("total", flat=True)
    assert min(balances) >= 0
    assert "check-ins" in summary and "redemptions" in summary
