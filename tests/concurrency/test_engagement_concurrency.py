"""Real concurrent connections on PostgreSQL against engagement: one member checking in from
eight requests at once, twelve members racing for five rewards, one member spending the same
points six times at once, and the sweep racing check-ins made through the API."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from analytics.services.ingest import events_ingest
from core.errors import ApplicationError
from engagement.models import CheckIn, Redemption, RewardItem
from engagement.services.checkins import checkin_record, checkins_from_events
from engagement.services.shop import redemption_cancel, reward_redeem, reward_save
from members.models import PointsEntry
from members.services.points import points_balance
from subgroups.models import Group
from tests.concurrency.test_tree_concurrency import run_at_once
from tests.engagement.conftest import days_ago, grant, member_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def design(community):
    return Group.objects.get(community=community, name="设计美学交流群")


def _refusals(errors: list[BaseException]) -> list[BaseException]:
    unexpected = [error for error in errors if not isinstance(error, ApplicationError)]
    assert unexpected == [], unexpected
    return errors


def test_eight_check_ins_at_once_make_one_check_in_and_one_payment(design):
    member = member_in(design)
    results = []
    errors = run_at_once(lambda _index: results.append(checkin_record(member=member, source="api")))
    assert errors == []
    assert CheckIn.objects.filter(member=member).count() == 1
    assert PointsEntry.objects.filter(member=member).count() == 1
    assert sum(result.created for result in results) == 1
    assert sum(result.points for result in results) == 5
    assert len({result.check_in.pk for result in results}) == 1


def test_twelve_members_racing_for_five_rewards(community, design):
    members = [member_in(design) for _ in range(12)]
    for member in members:
        grant(member, 100)
    item = reward_save(community=community, name="线下活动优先券", cost=60, stock=5)
    errors = _refusals(run_at_once(lambda index: reward_redeem(member=members[index], item=item), threads=12))
    assert len(errors) == 7 and all("out of stock" in error.message for error in errors)
    item.refresh_from_db()
    assert item.stock == 0
    redemptions = Redemption.objects.filter(item=item)
    assert redemptions.count() == 5 and len({r.member_id for r in redemptions}) == 5
    spent = PointsEntry.objects.filter(reason="redeem").aggregate(total=Sum("amount"))["total"]
    assert spent == -5 * 60 == -redemptions.aggregate(total=Sum("cost"))["total"]
    for member in members:
        assert points_balance(member=member) in (40, 100)
    assert sum(points_balance(member=member) for member in members) == 12 * 100 - 5 * 60


def test_one_member_spending_the_same_points_six_times_at_once(community, design):
    member = member_in(design)
    grant(member, 100)
    items = [reward_save(community=community, name=f"奖品{n}", cost=50, stock=3) for n in range(6)]
    errors = _refusals(run_at_once(lambda index: reward_redeem(member=member, item=items[index]), threads=6))
    assert len(errors) == 4 and all("Not enough points" in error.message for error in errors)
    assert Redemption.objects.filter(member=member).count() == 2
    assert points_balance(member=member) == 0
    # At no point in the ledger does the running balance go below zero.
    running = 0
    for amount in (
        PointsEntry.objects.filter(member=member).order_by("created_at", "pk").values_list("amount", flat=True)
    ):
        running += amount
        assert running >= 0
    assert sum(RewardItem.objects.filter(pk__in=[i.pk for i in items]).values_list("stock", flat=True)) == 6 * 3 - 2


def test_cancelling_twice_at_once_refunds_once(community, design):
    member = member_in(design)
    grant(member, 100)
    item = reward_save(community=community, name="贴纸", cost=70, stock=1)
    redemption = reward_redeem(member=member, item=item)
    errors = _refusals(run_at_once(lambda _index: redemption_cancel(redemption=redemption), threads=4))
    assert len(errors) == 3
    item.refresh_from_db()
    assert item.stock == 1 and points_balance(member=member) == 100
    assert PointsEntry.objects.filter(member=member, reason="refund").count() == 1


def test_the_sweep_racing_check_ins_pays_each_day_once(community, design):
    members = [member_in(design, platform_id=f"wx-{n}") for n in range(6)]
    raw = [
        {"type": "check_in", "group": design.pk, "user_id": f"wx-{n}", "occurred_at": days_ago(1).isoformat(),
         "event_id": f"e-{n}"}
        for n in range(6)
    ]  # fmt: skip
    events_ingest(raw_events=raw, groups=[design])

    def work(index: int) -> None:
        if index % 2:
            checkins_from_events(community)
        else:
            checkin_record(member=members[index % 6], source="api", at=days_ago(1))

    errors = run_at_once(work)
    assert errors == []
    assert CheckIn.objects.count() == 6
    keys = Counter(PointsEntry.objects.values_list("key", flat=True))
    assert len(keys) == 6 and set(keys.values()) == {1}
