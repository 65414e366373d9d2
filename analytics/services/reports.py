"""The weekly community health report (周报): every group's week beside its siblings', the
community's week beside the week before, member states and the alerts the week raised."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count

from analytics.models import Alert, CommunityDay, GroupDay, HealthReport
from analytics.services.metrics import local_today
from subgroups.models import Community, Group

REPORT_METRICS = (
    "members",
    "joins",
    "leaves",
    "speaking_rate_week",
    "messages_per_member",
    "interaction_rate",
    "quit_rate_week",
    "dau_rate",
)


def last_week_start(community: Community) -> date:
    """The Monday of the last complete local week."""
    today = local_today(community)
    return today - timedelta(days=today.weekday() + 7)


def _week(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A week in one row: counts are summed, levels and rates read on the week's last day,
    the DAU rate averaged."""
    if not rows:
        return {}
    last = rows[-1]
    dau = [row["dau_rate"] for row in rows if row["dau_rate"] is not None]
    return {
        "members": last["members"],
        "joins": sum(row["joins"] for row in rows),
        "leaves": sum(row["leaves"] for row in rows),
        "speaking_rate_week": last["speaking_rate_week"],
        "messages_per_member": last["messages_per_member"],
        "interaction_rate": last.get("interaction_rate"),
        "quit_rate_week": last.get("quit_rate_week"),
        "dau_rate": round(sum(dau) / len(dau), 6) if dau else None,
        "grade": last.get("grade", ""),
    }


def health_report_build(*, community: Community, week_start: date) -> dict[str, Any]:
    week_end = week_start + timedelta(days=6)
    previous_start = week_start - timedelta(days=7)
    fields = ["group_id", "day", "grade", *REPORT_METRICS]
    days: dict[int, dict[str, list]] = {}
    for row in (
        GroupDay.objects.filter(community=community, day__range=(previous_start, week_end))
        .order_by("group_id", "day")
        .values(*fields)
    ):
        bucket = "this" if row["day"] >= week_start else "previous"
        days.setdefault(row["group_id"], {"this": [], "previous": []})[bucket].append(row)
    groups = Group.objects.filter(community=community).order_by("tree_id", "lft")
    rows = []
    for group in groups:
        weeks = days.get(group.pk, {"this": [], "previous": []})
        this, previous = _week(weeks["this"]), _week(weeks["previous"])
        if not this:
            continue
        change = None
        if this.get("speaking_rate_week") is not None and previous.get("speaking_rate_week") is not None:
            change = round(this["speaking_rate_week"] - previous["speaking_rate_week"], 6)
        rows.append(
            {
                "group_id": group.pk,
                "name": group.name,
                "parent_id": group.parent_id,
                "level": group.level,
                **this,
                "speaking_rate_change": change,
            }
        )
    # Rank each group among its siblings by speaking rate: the article's internal competition.
    by_parent: dict[int | None, list[dict]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_id"], []).append(row)
    for siblings in by_parent.values():
        ordered = sorted(siblings, key=lambda row: -(row["speaking_rate_week"] or 0))
        for rank, row in enumerate(ordered, start=1):
            row["sibling_rank"], row["siblings"] = rank, len(siblings)
    community_days = list(
        CommunityDay.objects.filter(community=community, day__range=(previous_start, week_end))
        .order_by("day")
        .values("day", "members", "joins", "leaves", "speaking_rate_week", "messages_per_member", "dau_rate")
    )
    states = (
        CommunityDay.objects.filter(community=community, day__lte=week_end)
        .exclude(states={})
        .order_by("-day")
        .values_list("states", flat=True)
        .first()
    )
    alerts = dict(
        Alert.objects.filter(community=community, first_day__range=(week_start, week_end))
        .values_list("kind")
        .annotate(count=Count("pk"))
        .values_list("kind", "count")
    )
    return {
        "week_start": week_start.isoformat(),
        "week_end": week_end.isoformat(),
        "community": _week([row for row in community_days if row["day"] >= week_start]),
        "previous": _week([row for row in community_days if row["day"] < week_start]),
        "groups": rows,
        "states": states or {},
        "alerts": alerts,
    }


def health_report_generate(*, community: Community, week_start: date | None = None) -> HealthReport:
    """Build and store the report for a week (last week by default); a second run replaces it."""
    week_start = week_start or last_week_start(community)
    week_start -= timedelta(days=week_start.weekday())
    report, _created = HealthReport.objects.update_or_create(
        community=community,
        week_start=week_start,
        defaults={"data": health_report_build(community=community, week_start=week_start)},
    )
    return report


def health_reports_generate() -> int:
    count = 0
    for community in Community.objects.select_related("hub"):
        health_report_generate(community=community)
        count += 1
    return count
