"""Monthly assessments from a hand-built March 2026 in 设计美学交流群 (Shanghai time)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from analytics.models import EventKind
from content.models import FlagStatus, MemberFlag, ModerationFlag, Post, ReviewStage, ReviewStep
from core.errors import ApplicationError
from members.models import AdminAssessment, Role
from members.services import people
from members.services.program import assessment_record
from programme import services
from programme.services.assessments import assessments_compute_all
from tests.factories import UserFactory
from tests.programme.conftest import at, event, member_in, online, posting

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)
_tokens = itertools.count(1)


def post_in(group, *, created=None) -> Post:
    token = next(_tokens)
    return Post.objects.create(
        community=group.community,
        group=group,
        kind="knowledge",
        title=f"帖子{token}",
        body="正文",
        body_html="<p>正文</p>",
        status="first_review",
        status_token=f"token-{token}",
        **({"created_at": created} if created else {}),
    )


def review(user, group, when, stage=ReviewStage.FIRST) -> ReviewStep:
    return ReviewStep.objects.create(
        post=post_in(group, created=when), stage=stage, decision="approved", by=user, at=when
    )


def member_flag_resolved(user, group, when) -> MemberFlag:
    flagged = member_in(group)
    return MemberFlag.objects.create(
        member=flagged, group=group, reason="三次警告", status=FlagStatus.RESOLVED, resolved_at=when, resolved_by=user
    )


def moderation_flag_resolved(user, group, when) -> ModerationFlag:
    return ModerationFlag.objects.create(
        community=group.community,
        group=group,
        platform="wechat",
        external_message_id=f"msg-{next(_tokens)}",
        excerpt="……",
        action="review",
        status=FlagStatus.RESOLVED,
        created_at=when,
        resolved_at=when,
        resolved_by=user,
    )


def staff(group, name: str, role: str, *, login: bool = True):
    user = UserFactory(username=name) if login else None
    member = member_in(group, name, user=user)
    people.role_grant(member=member, group=group, role=role)
    return member, user


@pytest.fixture
def march(community, design, photo, coders):
    """Core admin 甲 (posts most), admin 乙 (online most, answers, handles most cases), guide 丙
    (no login), owner 主 (not assessed)."""
    a, a_user = staff(design, "甲", Role.CORE_ADMIN)
    b, b_user = staff(design, "乙", Role.ADMIN)
    c, _none = staff(design, "丙", Role.GUIDE, login=False)
    staff(design, "主", Role.OWNER)
    # Posts, from the daily rollups: 甲 40 in the group; 乙 20 below it (and 100 in a sibling,
    # which does not count); days outside March do not count.
    posting(a, design, date(2026, 3, 3), messages=30, replies=10)
    posting(a, design, date(2026, 2, 28), messages=50)
    posting(a, design, date(2026, 4, 1), messages=50)
    posting(b, photo, date(2026, 3, 12), messages=15, replies=5)
    posting(b, coders, date(2026, 3, 12), messages=100)
    # Online hours: 甲 10, 乙 20, 丙 5 (and 甲's events just outside March do not count).
    online(a, design, date(2026, 3, 2), 10)
    online(b, design, date(2026, 3, 9), 20)
    online(c, design, date(2026, 3, 16), 5)
    event(a, design, at(2026, 2, 28, 23, 30))
    event(a, design, at(2026, 4, 1, 0, 30))
    # Answers: 乙 answers a question in the group; 甲 replies to a plain message; 丙 answers
    # a question in a sibling group. All in hours they were already online.
    asker = member_in(design, "提问者")
    event(asker, design, at(2026, 3, 9, 8, 10), kind=EventKind.MESSAGE, is_question=True, external_id="q-1")
    event(asker, design, at(2026, 3, 2, 8, 10), kind=EventKind.MESSAGE, external_id="m-1")
    event(b, design, at(2026, 3, 9, 8, 30), kind=EventKind.REPLY, reply_to="q-1")
    event(a, design, at(2026, 3, 2, 8, 30), kind=EventKind.REPLY, reply_to="m-1")
    event(c, coders, at(2026, 3, 16, 8, 30), kind=EventKind.REPLY, reply_to="q-1")
    # Moderation: 甲 two first reviews in the group (a third in a sibling and a fourth in
    # February don't count); 乙 one member flag below the group and two chat flags in it.
    review(a_user, design, at(2026, 3, 4, 9))
    review(a_user, photo, at(2026, 3, 31, 23, 50), stage=ReviewStage.FINAL)
    review(a_user, coders, at(2026, 3, 5, 9))
    review(a_user, design, at(2026, 2, 28, 23, 50))
    member_flag_resolved(b_user, photo, at(2026, 3, 6, 12))
    moderation_flag_resolved(b_user, design, at(2026, 3, 7, 12))
    moderation_flag_resolved(b_user, design, at(2026, 3, 8, 12))
    return a, b, c


def scores(group) -> dict[str, tuple[int, int]]:
    return {
        row.member.display_name: (row.activity_score, row.dispute_score)
        for row in AdminAssessment.objects.filter(group=group, month=MARCH).select_related("member")
    }


def test_scores_from_the_month_worked_out_by_hand(march, design):
    """Activity = 100 × (0.4 posts/40 + 0.3 hours/20 + 0.3 answers/1):
    甲 0.4 + 0.15 + 0 = 55; 乙 0.2 + 0.3 + 0.3 = 80; 丙 0.3 × 5/20 = 7.5 → 8.
    Disputes = 100 × cases / 3: 甲 2 → 67, 乙 3 → 100, 丙 (no login) 0."""
    results = services.assessments_compute(group=design, month=date(2026, 3, 17))
    assert scores(design) == {"甲": (55, 67), "乙": (80, 100), "丙": (8, 0)}
    figures = {result.assessment.member.display_name: result.figures for result in results}
    assert (figures["甲"].posts, figures["甲"].hours, figures["甲"].answers, figures["甲"].reviews) == (40, 10, 0, 2)
    assert (figures["乙"].posts, figures["乙"].hours, figures["乙"].answers, figures["乙"].flags) == (20, 20, 1, 3)
    assert not any(result.kept for result in results)


def test_the_notes_show_the_figures_and_no_one_assessed_them_by_hand(march, design):
    services.assessments_compute(group=design, month=MARCH)
    row = AdminAssessment.objects.get(group=design, member__display_name="乙")
    assert row.assessed_by is None
    assert "20 messages and replies (staff best 40)" in row.notes
    assert "1 answers to questions" in row.notes and "3 moderation cases: 0 reviews, 3 flags resolved" in row.notes


def test_owners_are_not_assessed(march, design):
    services.assessments_compute(group=design, month=MARCH)
    assert set(scores(design)) == {"甲", "乙", "丙"}


def test_a_second_run_changes_nothing(march, design):
    services.assessments_compute(group=design, month=MARCH)
    before = list(AdminAssessment.objects.order_by("pk").values())
    services.assessments_compute(group=design, month=MARCH)
    assert list(AdminAssessment.objects.order_by("pk").values()) == before


def test_a_row_corrected_by_hand_is_kept(march, design, owner):
    a, _b, _c = march
    services.assessments_compute(group=design, month=MARCH)
    assessment_record(member=a, group=design, month=MARCH, activity_score=95, dispute_score=90, notes="人工", by=owner)
    results = services.assessments_compute(group=design, month=MARCH)
    assert scores(design)["甲"] == (95, 90)
    assert [result.assessment.member for result in results if result.kept] == [a]


def test_a_month_without_moderation_work_is_neutral(community, coders):
    staff(coders, "值班", Role.ADMIN)
    services.assessments_compute(group=coders, month=MARCH)
    assert scores(coders) == {"值班": (0, 50)}


def test_work_left_undone_scores_zero(community, coders):
    staff(coders, "值班", Role.ADMIN)
    post_in(coders, created=at(2026, 3, 10, 9))  # waited for a first review all month
    services.assessments_compute(group=coders, month=MARCH)
    assert scores(coders) == {"值班": (0, 0)}


def test_a_month_that_has_not_started_is_refused(design):
    with pytest.raises(ApplicationError) as refused:
        services.assessments_compute(group=design, month=date(2099, 1, 1))
    assert refused.value.field == "month"


def test_the_monthly_beat_assesses_the_month_that_ended_locally(march, design):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # 1 April 2026, 04:00 UTC is noon in Shanghai: March has ended there.
    assert assessments_compute_all(now=datetime(2026, 4, 1, 4, tzinfo=ZoneInfo("UTC"))) == 3
    assert scores(design)["乙"] == (80, 100)
