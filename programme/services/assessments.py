"""Monthly assessments (月度考核) computed from what the staff actually did that month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _

from analytics.models import Event, EventKind
from analytics.services.metrics import local_today
from content.models import MemberFlag, ModerationFlag, Post, ReviewStage, ReviewStep
from core.errors import ApplicationError
from members.models import AdminAssessment, Membership, MembershipStatus, Role
from members.services.program import assessment_record
from programme import selectors
from subgroups.models import Group

ASSESSED_ROLES = (Role.CORE_ADMIN, Role.ADMIN, Role.GUIDE)
# The activity score's parts and their weights.
ACTIVITY_WEIGHTS = {"posts": 0.4, "hours": 0.3, "answers": 0.3}
NOTHING_TO_HANDLE = 50  # the dispute score of a month without any moderation work in the subtree


@dataclass
class Figures:
    posts: int = 0
    hours: int = 0
    answers: int = 0
    reviews: int = 0
    flags: int = 0

    @property
    def cases(self) -> int:
        return self.reviews + self.flags


@dataclass
class AssessmentResult:
    assessment: AdminAssessment
    figures: Figures
    kept: bool  # corrected by hand earlier, so left as it was


def assessments_compute(*, group: Group, month: date) -> list[AssessmentResult]:
    """Assess every core admin, admin and guide of ``group`` (roles held on the group itself;
    owners are not assessed) on the month's real activity, and record each through
    ``members.services.program.assessment_record`` with the figures in the notes. Upserts: a
    second run for the month changes nothing, and a row an operator corrected by hand (it has
    an ``assessed_by``) is kept as they left it.

    **Activity, 0–100**, from three figures, each over the month in local days:

    - *posts*: messages + replies in the group's subtree (the daily rollups);
    - *online hours*: distinct local clock hours with any event (anywhere in the community);
    - *answers*: replies in the subtree to a message marked as a question.

    Each figure is divided by the best value among the group's assessed staff, so the most
    active colleague sets 1.0, and the score is ``100 × (0.4 posts + 0.3 hours + 0.3 answers)``.
    A figure nobody on the staff has (all zero) is left out and the other weights scaled up;
    with nothing at all the score is 0.

    **Dispute handling, 0–100**: the moderation cases the member decided in the subtree that
    month: first and final reviews of posts (``ReviewStep.by``), and member flags and chat
    moderation flags they resolved (``resolved_by``); the dashboard user is the member's
    ``Member.user``. ``100 × cases ÷ the most cases any colleague handled``. When nobody on the
    staff handled a case: 50 if no work arrived either (no post waited for review and no flag was
    raised in the subtree that month), otherwise 0 (the work was left undone)."""
    month = selectors.month_start(month)
    if month > local_today(group.community):
        raise ApplicationError(_("That month has not started yet."), field="month")
    staff = list(
        Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE, role__in=ASSESSED_ROLES)
        .select_related("member")
        .order_by("member__display_name", "member_id")
    )
    members = {membership.member_id: membership.member for membership in staff}
    if not members:
        return []
    figures = _figures(group, month, members)
    scores = _scores(group, month, figures)
    hand_made = set(
        AdminAssessment.objects.filter(
            group=group, month=month, member_id__in=members, assessed_by__isnull=False
        ).values_list("member_id", flat=True)
    )
    results = []
    for member_id, member in members.items():
        if member_id in hand_made:
            assessment = AdminAssessment.objects.get(group=group, month=month, member_id=member_id)
            results.append(AssessmentResult(assessment, figures[member_id], kept=True))
            continue
        activity, dispute = scores[member_id]
        assessment = assessment_record(
            member=member,
            group=group,
            month=month,
            activity_score=activity,
            dispute_score=dispute,
            notes=_notes(figures[member_id], figures),
        )
        results.append(AssessmentResult(assessment, figures[member_id], kept=False))
    return results


def _figures(group: Group, month: date, members: dict) -> dict[int, Figures]:
    community = group.community
    first, after = selectors.month_days(month)
    start, end = selectors.month_bounds(community, month)
    ids = list(members)
    tree = selectors.subtree(group)
    figures = {member_id: Figures() for member_id in ids}
    for member_id, (messages, replies) in selectors.posting_in_month(group=group, month=month, members=ids).items():
        figures[member_id].posts = messages + replies
    for member_id, hours in selectors.online_hours_in(community=community, start=first, end=after, members=ids).items():
        figures[member_id].hours = hours
    questions = Event.objects.filter(community=community, external_id=OuterRef("reply_to"), is_question=True)
    answers = (
        Event.objects.filter(
            community=community, kind=EventKind.REPLY, group__in=tree, day__gte=first, day__lt=after, member_id__in=ids
        )
        .exclude(reply_to="")
        .filter(Exists(questions))
        .order_by()
        .values("member_id")
        .annotate(n=Count("pk"))
        .values_list("member_id", "n")
    )
    for member_id, count in answers:
        figures[member_id].answers = count
    by_user = {member.user_id: member_id for member_id, member in members.items() if member.user_id}
    if by_user:
        reviews = (
            ReviewStep.objects.filter(
                by_id__in=by_user,
                stage__in=[ReviewStage.FIRST, ReviewStage.FINAL],
                at__gte=start,
                at__lt=end,
                post__group__in=tree,
            )
            .order_by()
            .values("by_id")
            .annotate(n=Count("pk"))
            .values_list("by_id", "n")
        )
        for user_id, count in reviews:
            figures[by_user[user_id]].reviews += count
        for model in (MemberFlag, ModerationFlag):
            resolved = (
                model.objects.filter(
                    resolved_by_id__in=by_user, resolved_at__gte=start, resolved_at__lt=end, group__in=tree
                )
                .order_by()
                .values("resolved_by_id")
                .annotate(n=Count("pk"))
                .values_list("resolved_by_id", "n")
            )
            for user_id, count in resolved:
                figures[by_user[user_id]].flags += count
    return figures


def _work_arrived(group: Group, month: date) -> bool:
    """Did anything need a moderator in the subtree that month?"""
    start, end = selectors.month_bounds(group.community, month)
    tree = selectors.subtree(group)
    reviewed_posts = ReviewStep.objects.filter(post=OuterRef("pk"), stage__in=[ReviewStage.FIRST, ReviewStage.FINAL])
    waiting_posts = Post.objects.filter(group__in=tree, created_at__gte=start, created_at__lt=end).filter(
        Q(status__in=["first_review", "final_review"]) | Exists(reviewed_posts)
    )
    return (
        waiting_posts.exists()
        or MemberFlag.objects.filter(group__in=tree, created_at__gte=start, created_at__lt=end).exists()
        or ModerationFlag.objects.filter(group__in=tree, created_at__gte=start, created_at__lt=end).exists()
    )


def _scores(group: Group, month: date, figures: dict[int, Figures]) -> dict[int, tuple[int, int]]:
    best = {part: max(getattr(row, part) for row in figures.values()) for part in ACTIVITY_WEIGHTS}
    weights = {part: weight for part, weight in ACTIVITY_WEIGHTS.items() if best[part] > 0}
    total_weight = sum(weights.values())
    most_cases = max(row.cases for row in figures.values())
    fallback = None if most_cases else (0 if _work_arrived(group, month) else NOTHING_TO_HANDLE)
    scores = {}
    for member_id, row in figures.items():
        if total_weight:
            share = sum(weight * getattr(row, part) / best[part] for part, weight in weights.items()) / total_weight
            activity = round(100 * share)
        else:
            activity = 0
        dispute = fallback if fallback is not None else round(100 * row.cases / most_cases)
        scores[member_id] = (min(max(activity, 0), 100), min(max(dispute, 0), 100))
    return scores


def _notes(row: Figures, everyone: dict[int, Figures]) -> str:
    best = {
        part: max(getattr(other, part) for other in everyone.values())
        for part in ("posts", "hours", "answers", "cases")
    }
    return _(
        "Computed from the month's activity: %(posts)d messages and replies (staff best %(best_posts)d), "
        "%(hours)d online hours (best %(best_hours)d), %(answers)d answers to questions (best %(best_answers)d); "
        "%(cases)d moderation cases: %(reviews)d reviews, %(flags)d flags resolved (best %(best_cases)d)."
    ) % {
        "posts": row.posts,
        "hours": row.hours,
        "answers": row.answers,
        "cases": row.cases,
        "reviews": row.reviews,
        "flags": row.flags,
        "best_posts": best["posts"],
        "best_hours": best["hours"],
        "best_answers": best["answers"],
        "best_cases": best["cases"],
    }


def assessments_compute_all(*, now: datetime | None = None) -> int:
    """The monthly beat: every group with assessed staff, for the month that ended last in its
    community's own time zone. Returns how many assessments were written or kept."""
    groups = Group.objects.filter(
        pk__in=Membership.objects.filter(status=MembershipStatus.ACTIVE, role__in=ASSESSED_ROLES).values("group_id")
    ).select_related("community")
    done = 0
    for group in groups.order_by("community_id", "tree_id", "lft"):
        month = selectors.previous_month(local_today(group.community, now))
        done += len(assessments_compute(group=group, month=month))
    return done
