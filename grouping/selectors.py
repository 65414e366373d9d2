"""Reads for the grouping pages and API: who may see what, the survey's numbers, its pivot
tables (pandas ``pivot_table``, the Excel pivot of the source article), the demand clusters
per topic, and the latest recommendations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from grouping.models import (
    GroupSuggestion,
    MemberRecommendation,
    NeedsSurvey,
    RecommendationRun,
    RunStatus,
    SuggestedMember,
    SuggestionStatus,
    SurveyQuestion,
    SurveyResponse,
)
from grouping.services.surveys import ADMIN, FREQUENCY, SIZE, SIZE_CAPACITY, TOPICS, WILLING
from grouping.topics import covers
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group, GroupStatus

# A member the model recommends for a topic's group joins a suggestion from this score.
RECOMMENDED_MIN_SCORE = 0.5
MARGIN = "∑"


# --- Access -------------------------------------------------------------------------------------


def hub_visible(user, community: Community) -> bool:
    """The survey, its numbers and the suggestions are community-wide: they need a role on the hub."""
    return community.hub_id is not None and can(user, Capability.VIEW, community.hub)


def manages_tree(user, community: Community) -> bool:
    """Editing the survey, accepting suggestions and retraining change the community's tree."""
    return community.hub_id is not None and can(user, Capability.MANAGE_TREE, community.hub)


def visible_members(user, community: Community) -> QuerySet[Member]:
    """Everyone in the community for a role on the hub; else the members of the user's groups."""
    members = Member.objects.filter(community=community)
    if hub_visible(user, community):
        return members
    groups = groups_where(user, Capability.VIEW).filter(community=community)
    return members.filter(
        Exists(Membership.objects.filter(member=OuterRef("pk"), group__in=groups, status=MembershipStatus.ACTIVE))
    )


def active_members(community: Community) -> QuerySet[Member]:
    """Members with an open membership somewhere in the community: the survey's audience."""
    return Member.objects.filter(community=community).filter(
        Exists(
            Membership.objects.filter(member=OuterRef("pk"), group__community=community, status=MembershipStatus.ACTIVE)
        )
    )


# --- The survey's numbers -------------------------------------------------------------------------


def questions(survey: NeedsSurvey) -> dict[str, SurveyQuestion]:
    return {question.key: question for question in survey.questions.all()}


def survey_stats(survey: NeedsSurvey) -> dict[str, Any]:
    members = active_members(survey.community).count()
    responses = SurveyResponse.objects.filter(survey=survey).count()
    latest = SurveyResponse.objects.filter(survey=survey).order_by("-updated_at").values_list("updated_at", flat=True)
    return {
        "responses": responses,
        "members": members,
        "response_rate": responses / members if members else None,
        "last_answer": latest.first(),
    }


def _records(survey: NeedsSurvey, by_key: dict[str, SurveyQuestion]) -> pd.DataFrame:
    """One row per (response, topic): the member and their size, frequency and admin answers."""
    rows = []
    for member_id, answers in SurveyResponse.objects.filter(survey=survey).values_list("member_id", "answers"):
        if not isinstance(answers, dict):
            continue
        for topic in answers.get(TOPICS) or []:
            rows.append(
                {
                    "member": member_id,
                    TOPICS: topic,
                    SIZE: answers.get(SIZE),
                    FREQUENCY: answers.get(FREQUENCY),
                    ADMIN: answers.get(ADMIN),
                }
            )
    return pd.DataFrame.from_records(rows, columns=["member", TOPICS, SIZE, FREQUENCY, ADMIN])


def pivots(survey: NeedsSurvey) -> list[dict[str, Any]]:
    """Topic × preferred size, topic × message frequency and topic × willing to be an admin:
    distinct members in each cell, with margins (∑). The ∑ row counts each member once, however
    many topics they chose. Rows and columns follow the survey's choice order."""
    by_key = questions(survey)
    if TOPICS not in by_key:
        return []
    frame = _records(survey, by_key)
    topic_labels = by_key[TOPICS].labels
    tables = []
    for key in (SIZE, FREQUENCY, ADMIN):
        question = by_key.get(key)
        if question is None:
            continue
        labels = question.labels
        part = frame.dropna(subset=[key])
        if part.empty:
            pivot = pd.DataFrame(0, index=[*topic_labels, MARGIN], columns=[*labels, MARGIN])
        else:
            pivot = pd.pivot_table(
                part,
                index=TOPICS,
                columns=key,
                values="member",
                aggfunc="nunique",
                fill_value=0,
                margins=True,
                margins_name=MARGIN,
            )
            extra_rows = [value for value in pivot.index if value not in topic_labels and value != MARGIN]
            extra_columns = [value for value in pivot.columns if value not in labels and value != MARGIN]
            pivot = pivot.reindex(
                index=[*topic_labels, *extra_rows, MARGIN], columns=[*labels, *extra_columns, MARGIN], fill_value=0
            )
        tables.append(
            {
                "key": key,
                "question": question.text,
                "columns": [labels.get(value, value) for value in pivot.columns],
                "rows": [
                    (topic_labels.get(index, index), [int(value) for value in row]) for index, row in pivot.iterrows()
                ],
            }
        )
    return tables


# --- Demand clusters ----------------------------------------------------------------------------


@dataclass
class Cluster:
    """Demand for one topic: who asked, who would run it, what already covers it."""

    topic: str
    label: str
    asked: int = 0
    asked_admins: int = 0  # of everyone who asked, those willing to be an admin
    in_groups: int = 0
    candidates: list[int] = field(default_factory=list)  # asked, not yet in a covering group
    admins: list[int] = field(default_factory=list)  # candidates willing to be an admin
    recommended: dict[int, float] = field(default_factory=dict)  # the model's picks, not asked
    groups: list[tuple[Group, int]] = field(default_factory=list)  # covering groups, free seats
    free_seats: int = 0
    preferred_size: str = ""
    preferred_frequency: str = ""
    capacity: int | None = None
    parent: Group | None = None
    state: str = ""
    suggestion: GroupSuggestion | None = None

    @property
    def interested(self) -> int:
        return len(self.candidates)

    @property
    def willing_admins(self) -> int:
        return len(self.admins)

    @property
    def score(self) -> float:
        """Members who asked, half of those the model recommends, and 5 for each willing admin
        (up to three): demand first, and a group that can be run."""
        return round(self.interested + 0.5 * len(self.recommended) + 5 * min(self.willing_admins, 3), 2)


class ClusterState:
    SUGGESTED = "suggested"  # meets every condition
    COVERED = "covered"  # existing groups have room for everyone who asked
    FEW_MEMBERS = "few_members"
    NO_ADMIN = "no_admin"
    DISMISSED = "dismissed"


def _mode(values: list[str], order: list[str]) -> str:
    counts = Counter(value for value in values if value)
    if not counts:
        return ""
    top = max(counts.values())
    # Ties go to the earlier choice: the smaller group, the calmer frequency.
    return next((value for value in order if counts.get(value) == top), max(counts, key=counts.get))


def latest_run(community: Community, *, ok: bool = False) -> RecommendationRun | None:
    runs = RecommendationRun.objects.filter(community=community)
    if ok:
        runs = runs.filter(status=RunStatus.OK)
    return runs.order_by("-trained_at", "-pk").first()


def demand_clusters(survey: NeedsSurvey) -> list[Cluster]:
    """For each topic of the survey: the members who asked for it and are not yet in a group
    that covers it, the willing admins among them, the covering groups and their free seats,
    the members the model recommends for those groups, the preferred size and frequency, and
    whether it should become a suggestion. A handful of queries, whatever the size."""
    community = survey.community
    hub = community.hub
    by_key = questions(survey)
    topic_question = by_key.get(TOPICS)
    if topic_question is None or hub is None:
        return []
    answers = {
        member_id: given
        for member_id, given in SurveyResponse.objects.filter(survey=survey)
        .filter(
            Exists(
                Membership.objects.filter(
                    member_id=OuterRef("member_id"), group__community=community, status=MembershipStatus.ACTIVE
                )
            )
        )
        .values_list("member_id", "answers")
        if isinstance(given, dict)
    }
    by_topic: dict[str, list[int]] = {}
    for member_id, given in answers.items():
        for topic in given.get(TOPICS) or []:
            by_topic.setdefault(topic, []).append(member_id)
    groups = list(
        Group.objects.filter(community=community)
        .exclude(pk=hub.pk)
        .exclude(status=GroupStatus.ARCHIVED)
        .select_related("parent")
        .order_by("tree_id", "lft")
    )
    covering = {
        choice["value"]: [
            group for group in groups if covers(group, [choice["value"], choice["label"]], hub_name=hub.name)
        ]
        for choice in topic_question.choices
    }
    covering_ids = {group.pk for found in covering.values() for group in found}
    seated: dict[int, set[int]] = {}
    for member_id, group_id in Membership.objects.filter(
        group_id__in=covering_ids, status=MembershipStatus.ACTIVE
    ).values_list("member_id", "group_id"):
        seated.setdefault(group_id, set()).add(member_id)
    run = latest_run(community, ok=True)
    picks: dict[int, dict[int, float]] = {}
    if run is not None and covering_ids:
        for member_id, group_id, score in MemberRecommendation.objects.filter(
            run=run, group_id__in=covering_ids, score__gte=RECOMMENDED_MIN_SCORE
        ).values_list("member_id", "group_id", "score"):
            picks.setdefault(group_id, {})[member_id] = score
    decided = dict(
        GroupSuggestion.objects.filter(survey=survey, status=SuggestionStatus.DISMISSED).values_list("topic", "pk")
    )
    pending = {
        suggestion.topic: suggestion
        for suggestion in GroupSuggestion.objects.filter(community=community, status=SuggestionStatus.PENDING)
    }
    size_order = list(by_key[SIZE].labels) if SIZE in by_key else []
    frequency_order = list(by_key[FREQUENCY].labels) if FREQUENCY in by_key else []
    size_labels = by_key[SIZE].labels if SIZE in by_key else {}
    frequency_labels = by_key[FREQUENCY].labels if FREQUENCY in by_key else {}

    clusters = []
    for choice in topic_question.choices:
        topic = choice["value"]
        cluster = Cluster(topic=topic, label=choice["label"])
        found = covering[topic]
        in_covering = set().union(*(seated.get(group.pk, set()) for group in found)) if found else set()
        askers = by_topic.get(topic, [])
        cluster.asked = len(askers)
        cluster.asked_admins = sum(1 for member_id in askers if answers[member_id].get(ADMIN) == WILLING)
        cluster.candidates = sorted(member_id for member_id in askers if member_id not in in_covering)
        cluster.in_groups = cluster.asked - len(cluster.candidates)
        cluster.admins = [member_id for member_id in cluster.candidates if answers[member_id].get(ADMIN) == WILLING]
        cluster.groups = [(group, max(group.capacity - group.member_count, 0)) for group in found]
        cluster.free_seats = sum(seats for group, seats in cluster.groups if group.status == GroupStatus.OPEN)
        asked = set(askers)
        for group in found:
            for member_id, score in picks.get(group.pk, {}).items():
                if member_id not in asked and member_id not in in_covering:
                    cluster.recommended[member_id] = max(score, cluster.recommended.get(member_id, 0.0))
        size = _mode([answers[member_id].get(SIZE) for member_id in cluster.candidates], size_order)
        frequency = _mode([answers[member_id].get(FREQUENCY) for member_id in cluster.candidates], frequency_order)
        cluster.preferred_size = size_labels.get(size, size)
        cluster.preferred_frequency = frequency_labels.get(frequency, frequency)
        cluster.capacity = SIZE_CAPACITY.get(size)
        # A sibling of the groups that already cover the topic; the hub's child otherwise.
        cluster.parent = found[0].parent if found and found[0].parent else hub
        cluster.suggestion = pending.get(topic)
        if topic in decided:
            cluster.state = ClusterState.DISMISSED
        elif cluster.interested and found and cluster.free_seats >= cluster.interested:
            cluster.state = ClusterState.COVERED
        elif cluster.interested < survey.min_members:
            cluster.state = ClusterState.FEW_MEMBERS
        elif not cluster.admins:
            cluster.state = ClusterState.NO_ADMIN
        else:
            cluster.state = ClusterState.SUGGESTED
        clusters.append(cluster)
    clusters.sort(key=lambda cluster: (-cluster.asked, cluster.label))
    return clusters


def demand_chart(clusters: list[Cluster], *, asked_label: str, admins_label: str) -> dict[str, Any]:
    """Bars for canopy.js: members asking for each topic against the willing admins among them."""
    return {
        "labels": [cluster.label for cluster in clusters],
        "datasets": [
            {"label": asked_label, "data": [cluster.asked for cluster in clusters], "color": "#2f7d4f"},
            {"label": admins_label, "data": [cluster.asked_admins for cluster in clusters], "color": "#d08a2e"},
        ],
    }


# --- Suggestions and recommendations ------------------------------------------------------------


def suggestions(community: Community, *, status: str | None = None) -> QuerySet[GroupSuggestion]:
    """With ``admin_matches``: the willing admins among the matched members, with their member."""
    admins = SuggestedMember.objects.filter(willing_admin=True).select_related("member").order_by("member_id")
    rows = (
        GroupSuggestion.objects.filter(community=community)
        .select_related("parent", "group", "decided_by")
        .prefetch_related(Prefetch("matches", queryset=admins, to_attr="admin_matches"))
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-score", "pk") if status == SuggestionStatus.PENDING else rows.order_by("-updated_at", "-pk")


def willing_admins(suggestion: GroupSuggestion) -> list[Member]:
    """The members to make guides or admins once they join (prefetched by ``suggestions``)."""
    matches = getattr(suggestion, "admin_matches", None)
    if matches is None:
        matches = suggestion.matches.filter(willing_admin=True).select_related("member").order_by("member_id")
    return [match.member for match in matches]


def recommendation_rows(
    run: RecommendationRun | None, *, members: QuerySet[Member], search: str = ""
) -> QuerySet[MemberRecommendation]:
    """Each member's top recommendation (rank 1), best first: one row per member, to page through."""
    if run is None:
        return MemberRecommendation.objects.none()
    rows = MemberRecommendation.objects.filter(run=run, rank=1, member__in=members).select_related("member")
    if search:
        rows = rows.filter(Q(member__display_name__icontains=search))
    return rows.order_by("-score", "member_id")


def recommendations_for(run: RecommendationRun | None, member_ids: list[int]) -> dict[int, list[MemberRecommendation]]:
    if run is None or not member_ids:
        return {}
    found: dict[int, list[MemberRecommendation]] = {}
    for row in (
        MemberRecommendation.objects.filter(run=run, member_id__in=member_ids)
        .select_related("group")
        .order_by("member_id", "rank")
    ):
        found.setdefault(row.member_id, []).append(row)
    return found
