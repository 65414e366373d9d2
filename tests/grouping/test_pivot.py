"""The pivot tables on a hand-made set of answers, worked out by hand."""

from __future__ import annotations

import pytest

from grouping.selectors import pivots, survey_stats
from tests.grouping.conftest import answer, member_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(survey, design, coders):
    a, b, c = member_in(design, name="甲"), member_in(design, name="乙"), member_in(coders, name="丙")
    member_in(coders, name="丁")  # in the community, no answer
    answer(survey, a, ["摄影", "reading"], size="lt50", frequency="daily", admin="yes")
    answer(survey, b, ["摄影"], size="lt50", frequency="weekly", admin="no")
    answer(survey, c, ["reading"], size="50_150", frequency="daily", admin="maybe")
    return survey


def table(tables, key):
    found = next(t for t in tables if t["key"] == key)
    return found["columns"], dict(found["rows"])


def test_topic_by_size_counts_members_with_margins(answered):
    columns, rows = table(pivots(answered), "size")
    assert columns == ["Fewer than 50", "50–150", "150–300", "More than 300", "∑"]
    assert rows["摄影"] == [2, 0, 0, 0, 2]
    assert rows["Reading"] == [1, 1, 0, 0, 2]
    assert rows["设计美学"] == [0, 0, 0, 0, 0]  # every topic has a row, in the survey's order
    # The ∑ row counts each member once, though 甲 chose two topics.
    assert rows["∑"] == [2, 1, 0, 0, 3]
    assert list(rows)[-1] == "∑"


def test_topic_by_frequency_and_by_admin(answered):
    _columns, rows = table(pivots(answered), "frequency")
    assert rows["摄影"] == [0, 1, 0, 1, 2]
    assert rows["Reading"] == [0, 2, 0, 0, 2]
    assert rows["∑"] == [0, 2, 0, 1, 3]
    columns, rows = table(pivots(answered), "admin")
    assert columns == ["Yes", "Maybe", "No", "∑"]
    assert rows["摄影"] == [1, 0, 1, 2]
    assert rows["Reading"] == [1, 1, 0, 2]
    assert rows["∑"] == [1, 1, 1, 3]


def test_response_rate_is_over_members_of_the_community(answered):
    stats = survey_stats(answered)
    assert stats["responses"] == 3 and stats["members"] == 4
    assert stats["response_rate"] == 0.75


def test_no_answers_gives_empty_tables(survey):
    tables = pivots(survey)
    assert [t["key"] for t in tables] == ["size", "frequency", "admin"]
    assert all(all(count == 0 for _label, counts in t["rows"] for count in counts) for t in tables)
    assert survey_stats(survey)["response_rate"] is None
