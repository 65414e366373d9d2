"""Levels from lifetime points, the levels editor's rules, points for posts and featured posts,
and organised events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from core.errors import ApplicationError
from engagement.models import Level
from engagement.selectors import level_distribution, member_standing, standings_for
from engagement.services.levels import level_of, levels_for, levels_save
from engagement.services.organised import organised_event_record
from engagement.services.points import points_rules
from engagement.services.shop import reward_redeem, reward_save
from engagement.services.sweeps import points_for_posts, sweeps_run
from members.models import PointsEntry
from members.services.points import points_balance
from tests.engagement.conftest import grant, member_in, published_post

pytestmark = pytest.mark.django_db


# --- Levels --------------------------------------------------------------------------------------


def test_five_default_levels_are_made_once_in_the_active_language(community):
    levels = levels_for(community=community)
    assert [level.threshold for level in levels] == [0, 100, 300, 1000, 3000]
    assert levels[0].name == "Newcomer"
    levels_for(community=community)
    assert Level.objects.filter(community=community).count() == 5


def test_the_level_comes_from_lifetime_earned_not_the_balance(alice, community):
    grant(alice, 320)
    item = reward_save(community=community, name="大礼包", cost=300)
    reward_redeem(member=alice, item=item)
    standing = member_standing(alice)
    assert standing.balance == 20 and standing.lifetime == 320
    assert standing.level.name == "Contributor" and standing.next_level.threshold == 1000
    assert standing.progress.to_next == 680 and standing.progress.percent == 2
    batch = standings_for(community, [alice.pk])
    assert batch[alice.pk].level == standing.level and batch[alice.pk].balance == 20


def test_progress_at_the_top_and_at_the_bottom(community):
    levels = levels_for(community=community)
    assert level_of(levels, 0).level.threshold == 0 and level_of(levels, 0).percent == 0
    top = level_of(levels, 5000)
    assert top.next_level is None and top.percent == 100 and top.to_next == 0
    assert level_of(levels, 200).percent == 50


def test_levels_save_edits_adds_removes_and_reorders(community):
    levels = levels_for(community=community)
    rows = [{"id": level.pk, "name": level.name, "threshold": level.threshold} for level in levels]
    rows[1]["threshold"], rows[2]["threshold"] = 300, 100  # swap: each must step aside first
    rows[4]["delete"] = True
    rows.append({"id": None, "name": "传奇", "threshold": 5000})
    saved = levels_save(community=community, levels=rows)
    assert [(level.name, level.threshold) for level in saved] == [
        ("Newcomer", 0),
        ("Contributor", 100),
        ("Regular", 300),
        ("Core member", 1000),
        ("传奇", 5000),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[0].update(threshold=10), "starts at 0"),
        (lambda rows: rows[2].update(threshold=100), "its own"),
        (lambda rows: rows[1].update(name="  "), "needs a name"),
        (lambda rows: [row.update(delete=True) for row in rows], "at least one"),
    ],
)
def test_levels_save_refuses(community, change, message):
    rows = [{"id": lv.pk, "name": lv.name, "threshold": lv.threshold} for lv in levels_for(community=community)]
    change(rows)
    with pytest.raises(ApplicationError) as caught:
        levels_save(community=community, levels=rows)
    assert message in caught.value.message
    assert [lv.threshold for lv in levels_for(community=community)] == [0, 100, 300, 1000, 3000]


def test_a_level_a_reward_needs_cannot_be_deleted(community):
    levels = levels_for(community=community)
    reward_save(community=community, name="资深礼", cost=1, requires_level=levels[3])
    rows = [{"id": level.pk, "name": level.name, "threshold": level.threshold} for level in levels]
    rows[3]["delete"] = True
    with pytest.raises(ApplicationError) as caught:
        levels_save(community=community, levels=rows)
    assert "资深礼" in caught.value.message


def test_defaults_follow_the_language(other_community):
    with translation.override("zh-hans"):
        names = [level.name for level in levels_for(community=other_community)]
    assert len(names) == 5


def test_the_level_distribution_counts_members_without_points_at_the_bottom(community, alice, bob, photo, owner):
    member_in(photo)
    grant(alice, 150)
    grant(bob, 1200)
    rows = {row["level"].threshold: row["members"] for row in level_distribution(owner, community)["rows"]}
    # The owner's own member has no points either.
    assert rows[100] == 1 and rows[1000] == 1 and rows[0] == community.members.count() - 2


# --- Posts ---------------------------------------------------------------------------------------


def test_points_for_posts_and_featured_posts_are_paid_once(community, alice, bob, photo, coders):
    post = published_post(photo, alice)
    best = published_post(coders, bob, featured=True)
    published_post(photo, None, title="公告")  # staff post: no author, no points
    draft = published_post(photo, alice)
    draft.status = "first_review"
    draft.save()
    result = points_for_posts(community)
    assert (result.posts, result.featured) == (2, 1)
    assert set(PointsEntry.objects.values_list("key", "amount")) == {
        (f"post:{post.pk}", 10),
        (f"post:{best.pk}", 10),
        (f"featured:{best.pk}", 30),
    }
    entry = PointsEntry.objects.get(key=f"post:{post.pk}")
    assert entry.created_at == post.published_at
    assert points_for_posts(community).posts == 0
    post.featured = True
    post.save()
    assert points_for_posts(community).featured == 1, "featured later: paid then"
    assert points_balance(member=alice) == 40 and points_balance(member=bob) == 40


def test_rules_switched_off_pay_nothing(community, alice, photo):
    rules = points_rules(community=community)
    rules.post = 0
    rules.save()
    published_post(photo, alice)
    assert sweeps_run(community)["posts"] == 0
    assert not PointsEntry.objects.exists()


# --- Organised events ----------------------------------------------------------------------------


def test_recording_an_organised_event_pays_the_organiser(alice, photo, owner):
    today = timezone.localdate()
    recorded = organised_event_record(
        group=photo, organiser=alice, title="周末外拍", held_on=today - timedelta(days=1), attendees=12, by=owner
    )
    assert recorded.points == 50
    entry = PointsEntry.objects.get(member=alice)
    assert entry.key == f"event:{recorded.event.pk}" and entry.reason == "event_organised"
    assert recorded.event.recorded_by == owner


def test_organised_event_rules(alice, photo, other_community):
    today = timezone.localdate()
    with pytest.raises(ApplicationError):
        organised_event_record(group=photo, organiser=alice, title="明天的活动", held_on=today + timedelta(days=2))
    with pytest.raises(ApplicationError):
        organised_event_record(group=other_community.hub, organiser=alice, title="x", held_on=today)
    with pytest.raises(ApplicationError):
        organised_event_record(group=photo, organiser=alice, title=" ", held_on=today)


# --- Beat -----------------------------------------------------------------------------------------


def test_beat_sweeps_every_community(community, other_community, alice, photo, eager_tasks, settings):
    from engagement.tasks import sweeps_all, sweeps_community

    assert settings.CELERY_BEAT_SCHEDULE["engagement-sweeps"]["task"] == "engagement.tasks.sweeps_all"
    published_post(photo, alice)
    assert sweeps_all() == 2
    assert points_balance(member=alice) == 10
    assert sweeps_community(community.pk) == {
        "check_ins": 0, "check_in_points": 0, "streak_bonuses": 0, "posts": 0, "featured": 0
    }  # fmt: skip
    assert sweeps_community(999_999) == {}
