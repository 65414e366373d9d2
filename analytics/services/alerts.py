"""Alerts for the admins of a group: opened while a condition holds, resolved when it ends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from analytics.models import Alert, AlertKind, AlertStatus, AnalyticsSettings, GroupDay, MemberDay, MemberMetric
from analytics.services.frames import WEEK, sql_frame
from analytics.sql import fetch
from subgroups.models import Community


def alerts_refresh(community: Community, *, today: date, now: datetime, options: AnalyticsSettings) -> int:
    """Open an alert for each condition that holds today, refresh those still open, resolve
    those whose condition has ended. A dismissed alert stays quiet for a week."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for group_day in GroupDay.objects.filter(community=community, day=today).exclude(members=0):
        health = [check for check in group_day.failed_checks if check["metric"] != "unanswered_questions"]
        if health:
            wanted[(AlertKind.GROUP_BELOW_THRESHOLD, f"group:{group_day.group_id}")] = {
                "group_id": group_day.group_id,
                "detail": {"checks": health, "grade": group_day.grade},
            }
        if (group_day.unanswered_questions or 0) >= options.unanswered_questions_max:
            wanted[(AlertKind.UNANSWERED_QUESTIONS, f"group:{group_day.group_id}")] = {
                "group_id": group_day.group_id,
                "detail": {"count": group_day.unanswered_questions},
            }
    ops = connection.ops
    end = today.toordinal()
    main_groups = dict(
        fetch(
            f"SELECT member_id, MAX(group_id) FROM {MemberDay._meta.db_table} md WHERE community_id = %s "
            "AND day > %s GROUP BY member_id",
            [community.pk, ops.adapt_datefield_value(date.fromordinal(end - 28))],
        )[1]
    )
    metrics = MemberMetric.objects.filter(community=community)
    left_recently = dict(
        fetch(
            f"SELECT member_id, MAX(group_id) FROM {MemberDay._meta.db_table} WHERE community_id = %s AND day > %s "
            "AND leaves > 0 GROUP BY member_id",
            [community.pk, ops.adapt_datefield_value(date.fromordinal(end - WEEK))],
        )[1]
    )
    quiet = set(metrics.filter(member_id__in=list(left_recently), messages_7d=0).values_list("member_id", flat=True))
    for member_id in quiet:
        wanted[(AlertKind.SILENT_AND_LEFT, f"member:{member_id}")] = {
            "group_id": left_recently[member_id],
            "member_id": member_id,
            "detail": {},
        }
    # "Fewer than 3 messages in two weeks" for members who managed 3 in the two weeks before.
    declining = sql_frame(
        f"SELECT member_id, SUM(CASE WHEN day > %s THEN messages + replies ELSE 0 END) AS recent, "
        "SUM(CASE WHEN day <= %s THEN messages + replies ELSE 0 END) AS prior "
        f"FROM {MemberDay._meta.db_table} WHERE community_id = %s AND day > %s GROUP BY member_id",
        [
            ops.adapt_datefield_value(date.fromordinal(end - 14)),
            ops.adapt_datefield_value(date.fromordinal(end - 14)),
            community.pk,
            ops.adapt_datefield_value(date.fromordinal(end - 28)),
        ],
    )
    if not declining.empty:
        low = declining[(declining["recent"] < 3) & (declining["prior"] >= 3)]
        for member_id, recent, prior in low[["member_id", "recent", "prior"]].itertuples(index=False):
            if member_id in main_groups:
                wanted[(AlertKind.LOW_ACTIVITY, f"member:{member_id}")] = {
                    "group_id": main_groups[member_id],
                    "member_id": member_id,
                    "detail": {"recent": int(recent), "prior": int(prior)},
                }
    return _alerts_apply(community, wanted, today, now)


@transaction.atomic
def _alerts_apply(community: Community, wanted: dict, today: date, now: datetime) -> int:
    open_alerts = {
        (alert.kind, alert.subject): alert
        for alert in Alert.objects.select_for_update().filter(community=community, status=AlertStatus.OPEN)
    }
    muted = set(
        Alert.objects.filter(
            community=community, status=AlertStatus.DISMISSED, resolved_at__gte=now - timedelta(days=WEEK)
        ).values_list("kind", "subject")
    )
    ended = [alert.pk for key, alert in open_alerts.items() if key not in wanted]
    Alert.objects.filter(pk__in=ended).update(status=AlertStatus.RESOLVED, resolved_at=now)
    refreshed, created = [], []
    for key, values in wanted.items():
        alert = open_alerts.get(key)
        if alert is not None:
            alert.last_day, alert.detail = today, values["detail"]
            refreshed.append(alert)
        elif key not in muted:
            created.append(
                Alert(
                    community=community,
                    kind=key[0],
                    subject=key[1],
                    group_id=values["group_id"],
                    member_id=values.get("member_id"),
                    detail=values["detail"],
                    first_day=today,
                    last_day=today,
                )
            )
    Alert.objects.bulk_update(refreshed, ["last_day", "detail"], batch_size=500)
    Alert.objects.bulk_create(created, batch_size=500)
    return len(refreshed) + len(created)
