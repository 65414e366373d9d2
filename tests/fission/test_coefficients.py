"""The fission coefficient on a small example worked out by hand.

Two inviters, 李雷 (A) and 韩梅梅 (B), bring five new members:
- A: two into 摄影群 through the live code, one into 设计美学交流群 by applying;
- B: one into 摄影群 by applying, one into 程序员技术群 by applying;
and A's second account (his own phone) is rejected.

| group            | joined it | subtree new | subtree inviters | coefficient |
|------------------|-----------|-------------|------------------|-------------|
| 摄影群            | 3         | 3           | A, B             | 1.5         |
| 设计美学交流群     | 1         | 4           | A, B             | 2.0         |
| 程序员技术群       | 1         | 1           | B                | 1.0         |
| hub (everything) | 0         | 5           | A, B             | 2.5         |

The live code: 2 new ÷ 1 inviter = 2.0. A campaign on 设计美学交流群 gets the four joins below it
from both: 2.0, and A (three of them) completes its task of 3.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fission import selectors
from fission.models import Referral

pytestmark = pytest.mark.django_db


def test_the_community_figure(community, owner, example):
    data = selectors.overview(owner, community, period="90")
    assert data["total"] == {
        "new_members": 5,
        "inviters": 2,
        "coefficient": 2.5,
        "rejected": 1,
        "rejected_share": pytest.approx(1 / 6),
    }


def test_per_group_with_subtrees_rolled_up(community, owner, example):
    rows = {row["group"].name: row for row in selectors.overview(owner, community, period="90")["groups"]}
    assert (rows["摄影群"]["own"]["new_members"], rows["摄影群"]["coefficient"], rows["摄影群"]["rejected"]) == (
        3,
        1.5,
        1,
    )
    assert (rows["设计美学交流群"]["own"]["new_members"], rows["设计美学交流群"]["new_members"]) == (1, 4)
    assert (rows["设计美学交流群"]["inviters"], rows["设计美学交流群"]["coefficient"]) == (2, 2.0)
    assert rows["设计美学交流群"]["own"]["coefficient"] == 1.0
    assert (rows["程序员技术群"]["new_members"], rows["程序员技术群"]["coefficient"]) == (1, 1.0)
    hub = rows[community.hub.name]
    assert (hub["own"]["new_members"], hub["new_members"], hub["inviters"], hub["coefficient"]) == (0, 5, 2, 2.5)


def test_per_live_code(community, owner, code, example):
    (row,) = selectors.overview(owner, community, period="90")["live_codes"]
    assert (row["live_code"], row["new_members"], row["inviters"], row["coefficient"]) == (code, 2, 1, 2.0)


def test_per_campaign(community, owner, example):
    (row,) = selectors.overview(owner, community, period="90")["campaigns"]
    assert (row["campaign"], row["new_members"], row["inviters"], row["coefficient"]) == (
        example["campaign"],
        4,
        2,
        2.0,
    )
    assert row["completions"] == 1
    assert example["campaign"].completions.get().member == example["a"]


def test_weekly(community, owner, example):
    # B's two friends joined two weeks earlier: that week B alone brought 2; this week A brought 3.
    Referral.objects.filter(inviter=example["b"]).update(joined_at=timezone.now() - timedelta(days=14))
    weeks = selectors.overview(owner, community, period="90")["weekly"]
    assert [(week["new_members"], week["inviters"], week["coefficient"]) for week in weeks] == [
        (2, 1, 2.0),
        (3, 1, 3.0),
    ]
    assert weeks[0]["week"].weekday() == 0 and (weeks[1]["week"] - weeks[0]["week"]).days == 14


def test_the_period_leaves_out_older_joins(community, owner, example):
    Referral.objects.filter(invitee__display_name="乙二").update(joined_at=timezone.now() - timedelta(days=100))
    assert selectors.overview(owner, community, period="90")["total"]["new_members"] == 4
    assert selectors.overview(owner, community, period="365")["total"]["new_members"] == 5
    assert selectors.overview(owner, community, period="all")["total"]["coefficient"] == 2.5


def test_a_subtree_admin_sees_their_subtree(community, subtree_admin, example):
    data = selectors.overview(subtree_admin, community, period="90")
    assert [row["group"].name for row in data["groups"]] == ["设计美学交流群", "摄影群"]
    assert (data["total"]["new_members"], data["total"]["inviters"], data["total"]["coefficient"]) == (4, 2, 2.0)


def test_top_inviters(community, owner, example):
    rows = selectors.top_inviters(selectors.referrals_for(owner, community))
    assert [(row["member"], row["new_members"], row["rejected"]) for row in rows] == [
        (example["a"], 3, 1),
        (example["b"], 2, 0),
    ]


def test_the_figures_take_a_fixed_number_of_queries(community, owner, example, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        data = selectors.overview(owner, community, period="90")
        len(data["groups"]), len(data["live_codes"]), len(data["campaigns"]), len(data["weekly"])
