"""Reads for the analytics pages, scoped to what the user may see: a role on a group covers
its subtree, and community-wide numbers need a role on the hub."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.db.models import Exists, OuterRef, QuerySet

from analytics.models import Alert, AlertStatus, ChurnModel, CommunityDay, GroupDay, HealthReport, MemberMetric
from analytics.services.metrics import local_today
from members.models import Application, Membership, MembershipStatus, Question
from members.permissions import can, groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group

TREND_DAYS = 90


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community)


def hub_visible(user, community: Community) -> bool:
    return community.hub_id is not None and can(user, Capability.VIEW, community.hub)


def community_trend(community: Community, *, days: int = TREND_DAYS) -> list[CommunityDay]:
    since = local_today(community) - timedelta(days=days - 1)
    return list(CommunityDay.objects.filter(community=community, day__gte=since).order_by("day"))


def group_trend(group: Group, *, days: int = TREND_DAYS) -> list[GroupDay]:
    since = local_today(group.community) - timedelta(days=days - 1)
    return list(GroupDay.objects.filter(group=group, day__gte=since).order_by("day"))


def latest_group_days(community: Community, groups: QuerySet[Group]) -> dict[int, GroupDay]:
    """Each group's most recent computed day."""
    latest = GroupDay.objects.filter(community=community).order_by("-day").values_list("day", flat=True).first()
    if latest is None:
        return {}
    rows = GroupDay.objects.filter(community=community, day=latest, group__in=groups)
    return {row.group_id: row for row in rows}


def kpis(trend: list[CommunityDay], *, today: date | None = None) -> list[dict[str, Any]]:
    """The headline figures on the latest complete day (today is still under way, and its
    rates would read low) and their change over 7 days."""
    complete = [row for row in trend if today is None or row.day < today]
    if not complete:
        return []
    latest = complete[-1]
    by_day = {row.day: row for row in trend}
    before = by_day.get(latest.day - timedelta(days=7))
    figures = [
        ("members", False),
        ("dau_rate", True),
        ("speaking_rate_week", True),
        ("speaking_rate_month", True),
        ("messages_per_member", False),
        ("quit_rate_month", True),
    ]
    result = []
    for name, percent in figures:
        value = getattr(latest, name)
        previous = getattr(before, name) if before else None
        change = None if value is None or previous is None else value - previous
        result.append(
            {
                "day": latest.day,
                "name": name,
                "label": CommunityDay._meta.get_field(name).verbose_name,
                "value": value,
                "change": change,
                "percent": percent,
                # For a quit rate, down is good.
                "good": None if change in (None, 0) else (change < 0) == (name == "quit_rate_month"),
            }
        )
    return result


def open_alerts(user, community: Community) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(community=community, status=AlertStatus.OPEN, group__in=visible_groups(user, community))
        .select_related("group", "member")
        .order_by("-last_day", "kind", "pk")
    )


def member_metrics(user, community: Community, *, group: Group | None = None) -> QuerySet[MemberMetric]:
    """Metrics of members the user may see: everyone if the hub is theirs, else members of
    their groups (or of ``group``, which must be one of them)."""
    rows = MemberMetric.objects.filter(community=community).select_related("member")
    scope = visible_groups(user, community) if group is None else Group.objects.filter(pk=group.pk)
    if group is not None or not hub_visible(user, community):
        rows = rows.filter(
            Exists(
                Membership.objects.filter(
                    member_id=OuterRef("member_id"), group__in=scope, status=MembershipStatus.ACTIVE
                )
            )
        )
    return rows


def latest_churn_model(community: Community) -> ChurnModel | None:
    return ChurnModel.objects.filter(community=community).order_by("-day").first()


def reports(community: Community) -> QuerySet[HealthReport]:
    return HealthReport.objects.filter(community=community).order_by("-week_start")


def survey_pivot(user, community: Community) -> list[dict[str, Any]]:
    """For each choice question, a pivot of answers × groups over the applications the user
    may see: how many applicants to each group picked each choice (pandas ``pivot_table``)."""
    groups = visible_groups(user, community)
    questions = list(Question.objects.filter(group__in=groups, kind__in=["single", "multiple"]).select_related("group"))
    if not questions:
        return []
    applications = Application.objects.filter(group__in=groups).values_list("group__name", "answers")
    records = []
    texts = {str(question.pk): question.text for question in questions}
    for group_name, answers in applications:
        for item in answers if isinstance(answers, list) else []:
            key = str(item.get("id")) if isinstance(item, dict) else ""
            if key not in texts:
                continue
            answer = item.get("answer")
            for choice in answer if isinstance(answer, list) else [answer]:
                if choice not in (None, ""):
                    records.append({"question": texts[key], "answer": str(choice), "group": group_name})
    if not records:
        return []
    frame = pd.DataFrame.from_records(records)
    result = []
    for text, part in frame.groupby("question", sort=False):
        pivot = pd.pivot_table(
            part, index="answer", columns="group", values="question", aggfunc="count", fill_value=0, margins=True
        )
        pivot = pivot.rename(index={"All": "∑"}, columns={"All": "∑"})
        result.append(
            {
                "question": text,
                "groups": [str(column) for column in pivot.columns],
                "rows": [(str(index), [int(value) for value in row]) for index, row in pivot.iterrows()],
            }
        )
    return result


def week_starts(community: Community, *, weeks: int = 12) -> list[date]:
    today = local_today(community)
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=offset) for offset in range(1, weeks + 1)]
