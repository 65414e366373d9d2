"""The synthetic activity generator: deterministic, inside its window, and shaped like a community."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.synthetic import KINDS, SyntheticActivity, generate_activity

END = datetime(2025, 3, 1, 12, 30, 15, tzinfo=UTC)
MEMBERS, DAYS = 2_000, 60


@pytest.fixture(scope="module")
def activity() -> SyntheticActivity:
    return generate_activity(members=MEMBERS, days=DAYS, groups=4, seed=11, end=END)


def messages_per_member(activity: SyntheticActivity, since: pd.Timestamp | None = None) -> pd.Series:
    events = activity.events
    messages = events[events.kind == "message"]
    if since is not None:
        messages = messages[messages.occurred_at >= since]
    return messages.groupby("member").size().reindex(activity.members.member, fill_value=0)


def test_the_same_arguments_give_identical_frames(activity):
    again = generate_activity(members=MEMBERS, days=DAYS, groups=4, seed=11, end=END)
    pd.testing.assert_frame_equal(again.members, activity.members)
    pd.testing.assert_frame_equal(again.events, activity.events)

    other = generate_activity(members=MEMBERS, days=DAYS, groups=4, seed=12, end=END)
    columns = ["member", "kind", "occurred_at"]
    assert not other.events[columns].equals(activity.events[columns])


def test_frames_have_the_documented_columns_and_types(activity):
    members, events = activity.members, activity.events
    assert list(members.columns) == [
        "member",
        "external_id",
        "display_name",
        "group",
        "joined_at",
        "left_at",
        "city",
        "purchase_count",
    ]
    assert list(events.columns) == ["member", "group", "kind", "occurred_at", "external_id", "text_length", "value"]
    assert members.member.tolist() == list(range(MEMBERS))
    assert str(members.joined_at.dtype) == str(members.left_at.dtype) == str(events.occurred_at.dtype)
    assert str(events.occurred_at.dtype) == "datetime64[ns, UTC]"
    assert members.joined_at.notna().all()
    assert (events.occurred_at.dt.microsecond == 0).all() and (events.occurred_at.dt.nanosecond == 0).all()
    assert members.display_name.str.len().gt(0).all()
    assert members.city.notna().all()


def test_external_ids_are_unique(activity):
    assert activity.members.external_id.is_unique
    assert activity.events.external_id.is_unique
    assert activity.members.external_id.iloc[0] == "syn-11-0"
    assert activity.events.external_id.str.startswith("syn-11-e").all()


def test_events_stay_inside_the_window_and_the_membership(activity):
    members, events = activity.members, activity.events
    end = pd.Timestamp(END)
    assert events.occurred_at.min() >= end - timedelta(days=DAYS)
    assert events.occurred_at.max() < end
    assert events.occurred_at.is_monotonic_increasing

    joined = events.merge(members[["member", "joined_at", "left_at"]], on="member")
    assert (joined.occurred_at >= joined.joined_at).all()
    assert not (joined.occurred_at > joined.left_at).any()

    leaves = joined[joined.kind == "leave"]
    assert leaves.member.is_unique and (leaves.occurred_at == leaves.left_at).all()
    assert len(leaves) == members.left_at.notna().sum()
    joins = joined[joined.kind == "join"]
    assert joins.member.is_unique and (joins.occurred_at == joins.joined_at).all()
    assert len(joins) == (members.joined_at >= end - timedelta(days=DAYS)).sum()


def test_some_joined_before_the_window_and_some_left_after_going_quiet(activity):
    members = activity.members
    start = pd.Timestamp(END) - timedelta(days=DAYS)
    assert 0.3 < (members.joined_at < start).mean() < 0.6
    assert 0.03 < members.left_at.notna().mean() < 0.12


def test_a_fifth_of_the_members_write_most_of_the_messages(activity):
    messages = messages_per_member(activity).sort_values(ascending=False)
    assert messages.iloc[: MEMBERS // 5].sum() > 0.5 * messages.sum()


def test_a_visible_share_has_been_silent_for_thirty_days(activity):
    members = activity.members
    since = pd.Timestamp(END) - timedelta(days=30)
    around = members[(members.joined_at <= since) & members.left_at.isna()].member
    silent = messages_per_member(activity, since=since).loc[around] == 0
    assert 0.10 < silent.mean() < 0.60


def test_lurkers_visit_without_posting(activity):
    events = activity.events
    visitors = set(events.member[events.kind == "visit"])
    posters = set(events.member[events.kind == "message"])
    assert 0.10 < len(visitors - posters) / MEMBERS < 0.35


def test_kinds_stay_within_the_allowed_set_and_messages_lead(activity):
    kinds = activity.events.kind
    allowed = {"message", "reply", "reaction", "visit", "check_in", "purchase", "click", "open", "join", "leave"}
    assert set(kinds.unique()) <= allowed
    assert set(KINDS) == set(kinds.cat.categories)
    counts = kinds.value_counts()
    assert counts.idxmax() == "message"
    assert counts["purchase"] < 0.01 * len(kinds) and counts["open"] < counts["click"]


def test_texts_and_purchase_values_belong_to_their_kinds(activity):
    events, members = activity.events, activity.members
    texts = events.kind.isin(["message", "reply", "check_in"])
    assert (events.text_length[~texts] == 0).all()
    assert (events.text_length[events.kind.isin(["message", "reply"])] > 0).all()

    purchases = events.kind == "purchase"
    assert events.value[purchases].between(9.9, 299).all()
    assert events.value[~purchases].isna().all()
    bought = events[purchases].groupby("member").size().reindex(members.member, fill_value=0)
    assert (members.purchase_count.to_numpy() >= bought.to_numpy()).all()
    assert members.purchase_count.le(3).mean() > 0.85


def test_groups_are_unequal_and_events_carry_the_members_group(activity):
    members, events = activity.members, activity.events
    sizes = members.group.value_counts()
    assert set(sizes.index) <= {0, 1, 2, 3} and sizes.max() > 1.5 * sizes.min()
    assert (events.group.to_numpy() == members.group.to_numpy()[events.member.to_numpy()]).all()


def test_activity_follows_chinese_waking_hours_and_quieter_weekends(activity):
    local = activity.events.occurred_at.dt.tz_convert("Asia/Shanghai")
    assert local.dt.hour.between(8, 22).mean() > 0.85
    per_weekday = local.dt.weekday.value_counts()
    assert per_weekday[[5, 6]].mean() < 0.9 * per_weekday[[0, 1, 2, 3, 4]].mean()


def test_the_default_gives_forty_to_sixty_events_per_member_over_ninety_days():
    activity = generate_activity(members=MEMBERS, days=90, seed=4, end=END)
    assert 40 <= len(activity.events) / MEMBERS <= 60


def test_the_end_defaults_to_now_to_the_minute():
    before = pd.Timestamp.now(tz=UTC).floor("min")
    activity = generate_activity(members=200, days=3, seed=1)
    after = pd.Timestamp.now(tz=UTC).floor("min")
    assert activity.events.occurred_at.max() < after
    assert activity.events.occurred_at.min() >= before - timedelta(days=3)


@pytest.mark.parametrize("target", [300_000, 1_500_000])
def test_events_target_lands_within_ten_percent(target):
    activity = generate_activity(members=20_000, days=60, seed=5, end=END, events_target=target)
    assert abs(len(activity.events) / target - 1) <= 0.10
    assert np.isin(activity.events.kind.unique(), KINDS).all()
