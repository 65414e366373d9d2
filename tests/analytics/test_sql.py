"""The set-based writes of analytics.sql, on whichever database the suite runs on."""

from datetime import UTC, datetime

import pytest

from analytics.sql import update_rows
from members.models import Member, Membership, MembershipStatus
from members.services import people
from tests.factories import add_members

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_and_no_other_row_changes(community, photo):
    members = add_members(photo, 5)
    memberships = list(Membership.objects.filter(group=photo).order_by("pk"))
    untouched = memberships[-1]
    joined = [datetime(2026, 1, day, 9, 30, tzinfo=UTC) for day in range(1, 5)]
    left = datetime(2026, 2, 1, tzinfo=UTC)
    rows = [  # two leave (with their time), two stay (left_at NULL)
        (membership.pk, when, *((MembershipStatus.LEFT, left) if index % 2 else (MembershipStatus.ACTIVE, None)))
        for index, (membership, when) in enumerate(zip(memberships[:-1], joined, strict=False))
    ]

    assert update_rows(Membership, ["joined_at", "status", "left_at"], rows) == 4

    stored = {m.pk: (m.joined_at, m.status, m.left_at) for m in Membership.objects.filter(group=photo)}
    for pk, when, status, left in rows:
        assert stored[pk] == (when, status, left)
    assert stored[untouched.pk] == (untouched.joined_at, untouched.status, untouched.left_at)
    assert Member.objects.filter(pk__in=[m.pk for m in members]).count() == 5


def test_a_chunk_of_only_nulls_and_many_chunks(community, photo):
    """All NULL in a column (PostgreSQL would type it text without the cast), and more rows than
    one statement takes."""
    member = people.member_create(community=community, display_name="一")
    Member.objects.filter(pk=member.pk).update(joined_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert update_rows(Member, ["joined_at"], [(member.pk, None)]) == 1
    assert Member.objects.get(pk=member.pk).joined_at is None

    many = add_members(photo, 40)
    when = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    from analytics import sql

    before, sql._MAX_PARAMS = sql._MAX_PARAMS, 10  # five rows of two values a statement
    try:
        update_rows(Member, ["joined_at"], [(m.pk, when) for m in many])
    finally:
        sql._MAX_PARAMS = before
    assert set(Member.objects.filter(pk__in=[m.pk for m in many]).values_list("joined_at", flat=True)) == {when}
