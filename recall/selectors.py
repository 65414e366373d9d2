"""Recall's reads: the funnel, A/B comparisons, cost per recovery, the call list and the exit
report, each scoped to the groups the user may see (an attempt belongs to the member's home
group when it was planned)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from members.permissions import groups_where
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    CycleStatus,
    ExitReason,
    ExitSurvey,
    RecallAttempt,
    RecallCycle,
    RecallPolicy,
    RecallStage,
    Variant,
)
from subgroups.access import Capability
from subgroups.models import Community, Group

STEPS = ("sent", "delivered", "opened", "responded", "recovered")


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community)


def recall_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.RUN_RECALL).filter(community=community)


def attempts_for(user, community: Community) -> QuerySet[RecallAttempt]:
    """The attempts whose group the user may see."""
    return RecallAttempt.objects.filter(community=community, group__in=visible_groups(user, community))


def policies(community: Community) -> QuerySet[RecallPolicy]:
    return RecallPolicy.objects.filter(community=community).prefetch_related("stages__coupon_pool")


def _aggregates() -> dict:
    return {
        "sent": Count("pk", filter=Q(sent_at__isnull=False)),
        "delivered": Count("pk", filter=Q(delivered_at__isnull=False)),
        "opened": Count("pk", filter=Q(opened_at__isnull=False)),
        "responded": Count("pk", filter=Q(responded_at__isnull=False)),
        "recovered": Count("pk", filter=Q(recovered_at__isnull=False)),
        "failed": Count("pk", filter=Q(status=AttemptStatus.FAILED)),
        "waiting": Count("pk", filter=Q(status__in=[AttemptStatus.SCHEDULED, AttemptStatus.SENDING])),
        "cost": Sum("gift_value", filter=Q(sent_at__isnull=False)),
    }


def _counts(attempts: QuerySet[RecallAttempt]) -> dict:
    return attempts.aggregate(**_aggregates())


def _grouped(attempts: QuerySet[RecallAttempt], *keys: str) -> list[dict]:
    """The counts per group of ``keys``, in one query."""
    return list(attempts.order_by().values(*keys).annotate(**_aggregates()))


def _with_rates(row: dict) -> dict:
    sent = row["sent"] or 0
    row["rates"] = {step: (row[step] / sent if sent else None) for step in STEPS}
    row["cost"] = row["cost"] or Decimal("0")
    row["cost_per_recovery"] = (row["cost"] / row["recovered"]) if row["recovered"] else None
    return row


def funnel(attempts: QuerySet[RecallAttempt], *, since: datetime | None = None) -> dict:
    """The whole funnel plus one row per (policy, stage, channel)."""
    if since is not None:
        attempts = attempts.filter(scheduled_at__gte=since)
    total = _with_rates(_counts(attempts))
    groups = _grouped(attempts, "stage_id", "channel")
    stages = {
        stage.pk: stage
        for stage in RecallStage.objects.filter(pk__in={g["stage_id"] for g in groups}).select_related("policy")
    }
    rows = []
    for group in groups:
        row = _with_rates(group)
        row["stage"] = stages[group["stage_id"]]
        row["channel"] = Channel(group["channel"])
        rows.append(row)
    rows.sort(key=lambda row: (row["stage"].policy.name, row["stage"].position, row["channel"]))
    return {"total": total, "rows": rows}


def funnel_chart(data: dict) -> dict:
    """One bar group per step, one dataset per stage row."""
    labels = [str(step_label(step)) for step in STEPS]
    return {
        "labels": labels,
        "datasets": [
            {"label": f"{row['stage'].name} · {row['channel'].label}", "data": [row[step] for step in STEPS]}
            for row in data["rows"]
        ],
    }


def step_label(step: str) -> str:
    return str(RecallAttempt._meta.get_field(f"{step}_at").verbose_name)


def ab_tests(attempts: QuerySet[RecallAttempt]) -> list[dict]:
    """For each stage with a variant B: both variants' counts and recovery rates, the
    difference B − A with its 95% interval, and a two-sided two-proportion z-test."""
    tests = []
    stage_ids = attempts.filter(variant=Variant.B).values_list("stage_id", flat=True).distinct()
    arms: dict[tuple[int, str], dict] = {
        (group["stage_id"], group["variant"]): _with_rates(group)
        for group in _grouped(attempts.filter(stage_id__in=stage_ids), "stage_id", "variant")
    }
    empty = _with_rates(dict.fromkeys((*STEPS, "failed", "waiting"), 0) | {"cost": None})
    for stage in (
        RecallStage.objects.filter(pk__in=stage_ids).select_related("policy").order_by("policy__name", "position")
    ):
        a, b = arms.get((stage.pk, Variant.A), empty), arms.get((stage.pk, Variant.B), empty)
        tests.append({"stage": stage, "a": a, "b": b, **compare(a["recovered"], a["sent"], b["recovered"], b["sent"])})
    return tests


def compare(success_a: int, n_a: int, success_b: int, n_b: int) -> dict:
    if not n_a or not n_b:
        return {"difference": None, "low": None, "high": None, "p_value": None}
    pa, pb = success_a / n_a, success_b / n_b
    difference = pb - pa
    spread = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    pooled = (success_a + success_b) / (n_a + n_b)
    pooled_spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = math.erfc(abs(difference) / pooled_spread / math.sqrt(2)) if pooled_spread else 1.0
    return {
        "difference": difference,
        "low": difference - 1.96 * spread,
        "high": difference + 1.96 * spread,
        "p_value": p_value,
    }


def recovered_members(attempts: QuerySet[RecallAttempt], *, limit: int = 100) -> QuerySet[RecallAttempt]:
    return (
        attempts.filter(recovered_at__isnull=False)
        .select_related("member", "stage", "group")
        .order_by("-recovered_at")[:limit]
    )


def cycles_now(community: Community, groups: QuerySet[Group]) -> dict:
    members = RecallAttempt.objects.filter(community=community, group__in=groups).values("member_id")
    counts = (
        RecallCycle.objects.filter(community=community, member_id__in=members).values("status").annotate(n=Count("pk"))
    )
    return {CycleStatus(row["status"]): row["n"] for row in counts}


def call_list(user, community: Community) -> QuerySet[RecallAttempt]:
    """Open phone tasks in the groups where the user runs recall: never called, or not
    answered yet; the longest waiting first."""
    return (
        RecallAttempt.objects.filter(
            community=community,
            channel=Channel.PHONE,
            status=AttemptStatus.SENT,
            group__in=recall_groups(user, community),
        )
        .filter(Q(call_outcome="") | Q(call_outcome=CallOutcome.NO_ANSWER))
        .select_related("member", "stage", "group", "cycle")
        .order_by("sent_at", "pk")
    )


def calls_done(user, community: Community, *, days: int = 30) -> QuerySet[RecallAttempt]:
    return (
        RecallAttempt.objects.filter(
            community=community,
            channel=Channel.PHONE,
            group__in=recall_groups(user, community),
            called_at__gte=timezone.now() - timedelta(days=days),
        )
        .exclude(call_outcome__in=["", CallOutcome.NO_ANSWER])
        .select_related("member", "stage", "called_by")
        .order_by("-called_at")
    )


def exit_surveys(user, community: Community) -> QuerySet[ExitSurvey]:
    return ExitSurvey.objects.filter(community=community, group__in=visible_groups(user, community)).select_related(
        "member", "group"
    )


def exit_report(surveys: QuerySet[ExitSurvey]) -> dict:
    """Churn attribution: how many gave each reason (a member may give several), by group too."""
    answered = list(surveys.filter(answered_at__isnull=False).values("group_id", "group__name", "reasons"))
    sent = surveys.count()
    reasons = dict.fromkeys(ExitReason.values, 0)
    by_group: dict[int, dict] = {}
    for row in answered:
        entry = by_group.setdefault(
            row["group_id"], {"group": row["group__name"], "answered": 0, **dict.fromkeys(ExitReason.values, 0)}
        )
        entry["answered"] += 1
        for reason in row["reasons"] or []:
            if reason in reasons:
                reasons[reason] += 1
                entry[reason] += 1
    return {
        "sent": sent,
        "answered": len(answered),
        "response_rate": (len(answered) / sent) if sent else None,
        "reasons": [
            (ExitReason(reason), count, (count / len(answered)) if answered else None)
            for reason, count in reasons.items()
        ],
        "by_group": sorted(by_group.values(), key=lambda entry: -entry["answered"]),
        "chart": {"labels": [str(ExitReason(reason).label) for reason in reasons], "counts": list(reasons.values())},
    }
