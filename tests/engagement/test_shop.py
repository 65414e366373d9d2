"""The rewards shop: each refusal with its reason, cancelling with a refund, and a ledger that
adds up to the balance line by line."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from engagement.models import Redemption, RedemptionStatus
from engagement.selectors import ledger, member_standing
from engagement.services.levels import levels_for
from engagement.services.shop import redemption_cancel, redemption_fulfil, reward_redeem, reward_save
from members.models import PointsEntry
from members.services.points import points_balance
from tests.engagement.conftest import check_in_days, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def template_pack(community):
    return reward_save(community=community, name="《作文模板大全》", cost=100, stock=2)


def refusal(member, item) -> str:
    with pytest.raises(ApplicationError) as caught:
        reward_redeem(member=member, item=item)
    return caught.value.message


def test_a_redemption_spends_the_points_and_takes_one_from_stock(alice, template_pack, owner):
    grant(alice, 150)
    redemption = reward_redeem(member=alice, item=template_pack)
    template_pack.refresh_from_db()
    assert redemption.status == RedemptionStatus.PENDING and redemption.cost == 100
    assert template_pack.stock == 1
    assert points_balance(member=alice) == 50
    spend = PointsEntry.objects.get(member=alice, amount__lt=0)
    assert (spend.amount, spend.reason, spend.key) == (-100, "redeem", f"redeem:{redemption.pk}")
    redemption_fulfil(redemption=redemption, by=owner)
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.FULFILLED and redemption.by == owner and redemption.fulfilled_at


def test_not_enough_points_says_how_many_are_missing(alice, template_pack):
    grant(alice, 60)
    message = refusal(alice, template_pack)
    assert "Not enough points" in message and "40 missing" in message
    assert not Redemption.objects.exists() and points_balance(member=alice) == 60


def test_out_of_stock(alice, bob, community):
    item = reward_save(community=community, name="线下活动优先券", cost=10, stock=1)
    grant(alice, 50)
    grant(bob, 50)
    reward_redeem(member=alice, item=item)
    assert "out of stock" in refusal(bob, item)
    assert points_balance(member=bob) == 50


def test_unlimited_stock_stays_unlimited(alice, community):
    item = reward_save(community=community, name="专属头衔", cost=10)
    grant(alice, 50)
    for _ in range(3):
        reward_redeem(member=alice, item=item)
    item.refresh_from_db()
    assert item.stock is None and points_balance(member=alice) == 20


def test_the_per_member_limit(alice, community):
    item = reward_save(community=community, name="专属头衔", cost=10, per_member_limit=1)
    grant(alice, 50)
    first = reward_redeem(member=alice, item=item)
    assert "limit" in refusal(alice, item)
    redemption_cancel(redemption=first)
    reward_redeem(member=alice, item=item)  # a cancelled one does not count


def test_an_item_off_sale(alice, community):
    item = reward_save(community=community, name="旧奖品", cost=10, is_active=False)
    grant(alice, 50)
    assert "not on offer" in refusal(alice, item)


def test_a_level_locked_item_opens_with_lifetime_points_not_the_balance(alice, community):
    regular = levels_for(community=community)[1]
    assert regular.threshold == 100
    item = reward_save(community=community, name="进阶资料包", cost=30, requires_level=regular)
    cheap = reward_save(community=community, name="贴纸", cost=60)
    grant(alice, 90)
    message = refusal(alice, item)
    assert "Unlocked at level" in message and "90 earned" in message
    reward_redeem(member=alice, item=cheap)  # balance 30, earned 90
    grant(alice, 10)  # earned 100, balance 40
    reward_redeem(member=alice, item=item)
    assert points_balance(member=alice) == 10


def test_a_streak_locked_item(alice, community):
    item = reward_save(community=community, name="连续签到礼", cost=10, requires_streak=3)
    check_in_days(alice, 5, 4)
    message = refusal(alice, item)
    assert "3 days in a row" in message and "best streak so far is 2" in message
    check_in_days(alice, 3)  # the best streak counts, even once broken
    reward_redeem(member=alice, item=item)


def test_an_item_of_another_community(alice, other_community):
    item = reward_save(community=other_community, name="别人的奖品", cost=1)
    grant(alice, 10)
    assert refusal(alice, item) == "No such reward."


def test_cancelling_refunds_once_and_returns_the_stock(alice, template_pack, owner):
    grant(alice, 100)
    redemption = reward_redeem(member=alice, item=template_pack)
    redemption_cancel(redemption=redemption, by=owner)
    template_pack.refresh_from_db()
    redemption.refresh_from_db()
    assert template_pack.stock == 2 and redemption.status == RedemptionStatus.CANCELLED
    assert points_balance(member=alice) == 100
    refund = PointsEntry.objects.get(member=alice, reason="refund")
    assert refund.key == f"refund:{redemption.pk}" and refund.amount == 100
    with pytest.raises(ApplicationError):
        redemption_cancel(redemption=redemption)
    with pytest.raises(ApplicationError):
        redemption_fulfil(redemption=redemption)
    assert points_balance(member=alice) == 100
    assert member_standing(alice).lifetime == 100, "a refund earns nothing"


def test_the_ledger_adds_up_to_the_balance_line_by_line(alice, template_pack, community):
    grant(alice, 120)
    check_in_days(alice, 2, 1)
    first = reward_redeem(member=alice, item=template_pack)
    redemption_cancel(redemption=first)
    reward_redeem(member=alice, item=template_pack)
    lines = ledger(alice)
    running = 0
    for line in lines:
        running += line.entry.amount
        assert line.balance == running
    assert lines[-1].balance == points_balance(member=alice) == member_standing(alice).balance == 30
    assert [line.label for line in lines][-3:] == ["Redeemed", "Refund", "Redeemed"]


def test_reward_rules(community, other_community):
    with pytest.raises(ApplicationError):
        reward_save(community=community, name="", cost=10)
    with pytest.raises(ApplicationError):
        reward_save(community=community, name="免费", cost=0)
    with pytest.raises(ApplicationError):
        reward_save(community=community, name="x", cost=10, requires_level=levels_for(community=other_community)[0])
