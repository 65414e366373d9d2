"""Analytics pages: the community overview, a group's page, the member list, the survey
pivot, weekly health reports and the thresholds. Every table downloads as CSV or XLSX
(``?export=csv`` or ``?export=xlsx``)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics import selectors
from analytics.exports import table_response, workbook_response
from analytics.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AnalyticsSettings,
    GroupDay,
    MemberState,
    RiskBand,
    Segment,
)
from analytics.services import reports
from analytics.services.metrics import local_today
from analytics.settings import settings_for
from members.permissions import can, can_see_personal_data
from members.privacy import mask_phone
from subgroups.access import Capability
from subgroups.models import Community, Group
from subgroups.views import community_page

RATE_FIELDS = (
    "dau_rate",
    "speaking_rate_day",
    "speaking_rate_week",
    "speaking_rate_month",
    "quit_rate_week",
    "quit_rate_month",
    "interaction_rate",
)


def _export(request: HttpRequest) -> str:
    return request.GET.get("export", "")


def _series(rows, fields: list[str]) -> dict:
    """Chart data: one dataset per field, labelled with the field's name."""
    model = type(rows[0]) if rows else None
    return {
        "labels": [row.day.isoformat() for row in rows],
        "datasets": [
            {
                "label": str(model._meta.get_field(name).verbose_name) if model else name,
                "data": [getattr(row, name) for row in rows],
            }
            for name in fields
        ],
    }


def _alert_text(alert: Alert) -> str:
    detail = alert.detail or {}
    if alert.kind == AlertKind.GROUP_BELOW_THRESHOLD:
        names = [str(GroupDay._meta.get_field(check["metric"]).verbose_name) for check in detail.get("checks", [])]
        return _("Below threshold: %(metrics)s") % {"metrics": ", ".join(names)}
    if alert.kind == AlertKind.UNANSWERED_QUESTIONS:
        return _("%(count)s questions without an answer") % {"count": detail.get("count", "?")}
    if alert.kind == AlertKind.SILENT_AND_LEFT:
        return _("Left and silent for 7 days: escalate to an admin")
    return _("%(recent)s messages in the last two weeks, %(prior)s in the two before: send study material") % {
        "recent": detail.get("recent", 0),
        "prior": detail.get("prior", 0),
    }


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    groups = selectors.visible_groups(request.user, community)
    if not groups.exists():
        raise Http404
    hub_visible = selectors.hub_visible(request.user, community)
    trend = selectors.community_trend(community) if hub_visible else []
    latest = selectors.latest_group_days(community, groups)
    tree = []
    for group in groups.order_by("tree_id", "lft"):
        tree.append({"group": group, "day": latest.get(group.pk)})
    if _export(request) and request.GET.get("table") == "alerts":
        rows = [
            {
                "since": alert.first_day,
                "last": alert.last_day,
                "group": alert.group.name,
                "member": alert.member.display_name if alert.member else "",
                "kind": alert.get_kind_display(),
                "what": _alert_text(alert),
            }
            for alert in selectors.open_alerts(request.user, community)
        ]
        columns = [("since", _("Since")), ("last", _("Last seen")), ("group", _("Group")), ("member", _("Member"))]
        columns += [("kind", _("Kind")), ("what", _("What"))]
        return table_response(fmt=_export(request), filename=f"{community.slug}-alerts", columns=columns, rows=rows)
    alerts = list(selectors.open_alerts(request.user, community)[:50])
    for alert in alerts:
        alert.text = _alert_text(alert)
    if _export(request):
        return _tree_export(request, community, tree)
    model = selectors.latest_churn_model(community) if hub_visible else None
    calibration = (model.calibration or {}) if model else {}
    states = trend[-1].states if trend else {}
    segments = trend[-1].segments if trend else {}
    context = {
        "community": community,
        "hub_visible": hub_visible,
        "kpis": selectors.kpis(trend, today=local_today(community)),
        "trend_rates": _series(trend, ["dau_rate", "speaking_rate_week", "speaking_rate_month", "quit_rate_month"]),
        "trend_volume": _series(trend, ["members", "active_members", "speakers"]),
        "trend_messages": _series(trend, ["messages_per_member"]),
        "states_chart": {
            "labels": [str(MemberState(key).label) for key in MemberState.values if key in states],
            "counts": [states[key] for key in MemberState.values if key in states],
        },
        "segments_chart": {
            "labels": [str(Segment(key).label) for key in Segment.values if key in segments],
            "counts": [segments[key] for key in Segment.values if key in segments],
        },
        "states": [(MemberState(key), states.get(key, 0)) for key in MemberState.values],
        "segments": [(Segment(key), segments.get(key, 0)) for key in Segment.values],
        "tree": tree,
        "alerts": alerts,
        "model": model,
        "calibration": calibration,
        "calibration_chart": {
            "points": [
                {"x": row["mean_predicted"], "y": row["observed_rate"]} for row in calibration.get("bins", []) or []
            ]
        },
    }
    return render(request, "analytics/overview.html", context)


def _tree_export(request: HttpRequest, community: Community, tree: list[dict]) -> HttpResponse:
    columns = [
        ("group", _("Group")),
        ("level", _("Level")),
        ("members", _("Members")),
        ("capacity", _("Capacity")),
        ("grade", _("Health grade")),
    ]
    columns += [(name, str(GroupDay._meta.get_field(name).verbose_name)) for name in RATE_FIELDS]
    columns += [("messages_per_member", _("Messages per member")), ("unanswered_questions", _("Unanswered"))]
    rows = []
    for entry in tree:
        group, day = entry["group"], entry["day"]
        row = {"group": group.name, "level": group.level, "members": group.member_count, "capacity": group.capacity}
        if day is not None:
            row.update({name: getattr(day, name) for name, _label in columns[4:]})
        rows.append(row)
    return table_response(fmt=_export(request), filename=f"{community.slug}-groups", columns=columns, rows=rows)


@require_GET
@community_page
def group_page(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = get_object_or_404(selectors.visible_groups(request.user, community), pk=pk)
    trend = selectors.group_trend(group)
    # Its siblings, as far as the user may see them.
    visible = selectors.visible_groups(request.user, community)
    siblings = list(
        visible.filter(parent_id=group.parent_id).order_by("name") if group.parent_id else visible.filter(pk=group.pk)
    )
    latest = selectors.latest_group_days(community, Group.objects.filter(pk__in=[s.pk for s in siblings]))
    board = sorted(
        ({"group": sibling, "day": latest.get(sibling.pk)} for sibling in siblings),
        key=lambda entry: -((entry["day"].speaking_rate_week or 0) if entry["day"] else -1),
    )
    metrics = selectors.member_metrics(request.user, community, group=group)
    if _export(request) and request.GET.get("table") == "trend":
        fmt = _export(request)
        columns = [("day", _("Day")), ("members", _("Members")), ("joins", _("Joins")), ("leaves", _("Leaves"))]
        columns += [("messages", _("Messages")), *((name, _label(name)) for name in RATE_FIELDS)]
        columns += [("messages_per_member", _label("messages_per_member")), ("grade", _("Health grade"))]
        rows = [{key: getattr(row, key) for key, _h in columns} for row in trend]
        return table_response(fmt=fmt, filename=f"{group.slug}-days", columns=columns, rows=rows)
    if _export(request):
        columns = [("rank", _("Rank")), ("group", _("Group")), ("members", _("Members")), ("grade", _("Health grade"))]
        columns += [(name, _label(name)) for name in ("speaking_rate_week", "messages_per_member", "quit_rate_month")]
        rows = []
        for rank, entry in enumerate(board, start=1):
            row = {"rank": rank, "group": entry["group"].name, "members": entry["group"].member_count}
            if entry["day"]:
                row.update({key: getattr(entry["day"], key) for key, _h in columns[3:]})
            rows.append(row)
        return table_response(fmt=_export(request), filename=f"{group.slug}-siblings", columns=columns, rows=rows)
    by_state = dict.fromkeys(MemberState.values, 0)
    for state in metrics.values_list("state", flat=True):
        by_state[state] += 1
    context = {
        "community": community,
        "group": group,
        "trend": trend,
        "today": trend[-1] if trend else None,
        "trend_rates": _series(trend, ["dau_rate", "speaking_rate_week", "speaking_rate_month", "interaction_rate"]),
        "trend_volume": _series(trend, ["members", "active_members", "speakers", "messages"]),
        "states_chart": {
            "labels": [str(MemberState(key).label) for key in MemberState.values],
            "datasets": [{"label": str(_("Members")), "data": [by_state[key] for key in MemberState.values]}],
        },
        "by_state": [(MemberState(key), count) for key, count in by_state.items()],
        "board": board,
    }
    return render(request, "analytics/group.html", context)


def _label(name: str) -> str:
    return str(GroupDay._meta.get_field(name).verbose_name)


class MemberFilter(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False)
    segment = forms.ChoiceField(label=gettext_lazy("Segment"), required=False)
    risk = forms.ChoiceField(label=gettext_lazy("Risk"), required=False)
    group = forms.TypedChoiceField(label=gettext_lazy("Group"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", gettext_lazy("All"))]
        self.fields["state"].choices = everything + list(MemberState.choices)
        self.fields["segment"].choices = everything + list(Segment.choices)
        self.fields["risk"].choices = everything + list(RiskBand.choices)
        self.fields["group"].choices = everything + [(group.pk, group.name) for group in groups]


@require_GET
@community_page
def members(request: HttpRequest, community: Community) -> HttpResponse:
    groups = selectors.visible_groups(request.user, community).order_by("tree_id", "lft")
    if not groups.exists():
        raise Http404
    form = MemberFilter(request.GET or None, groups=groups)
    chosen = None
    rows = selectors.member_metrics(request.user, community)
    if form.is_valid():
        values = form.cleaned_data
        if values["group"]:
            chosen = groups.filter(pk=values["group"]).first()
            rows = selectors.member_metrics(request.user, community, group=chosen)
        if values["state"]:
            rows = rows.filter(state=values["state"])
        if values["segment"]:
            rows = rows.filter(segment=values["segment"])
        if values["risk"]:
            rows = rows.filter(risk_band=values["risk"])
    rows = rows.order_by("-churn_probability", "member__display_name", "member_id")
    owner = can_see_personal_data(request.user, community)
    if _export(request):
        columns = [
            ("name", _("Name")),
            ("phone", _("Phone")),
            ("state", _("State")),
            ("segment", _("Segment")),
            ("rfm", _("RFM")),
            ("messages_30d", _("Messages, 30 days")),
            ("active_days", _("Active days, 90 days")),
            ("last_active_at", _("Last activity")),
            ("churn_probability", _("Churn probability")),
            ("risk", _("Risk")),
        ]
        data = [
            {
                "name": row.member.display_name,
                "phone": row.member.phone if owner else mask_phone(row.member.phone),
                "state": row.get_state_display(),
                "segment": row.get_segment_display(),
                "rfm": f"{row.recency_score}{row.frequency_score}{row.monetary_score}",
                "messages_30d": row.messages_30d,
                "active_days": row.active_days,
                "last_active_at": timezone.localtime(row.last_active_at).strftime("%Y-%m-%d %H:%M")
                if row.last_active_at
                else "",
                "churn_probability": row.churn_probability,
                "risk": row.get_risk_band_display(),
            }
            for row in rows[:100_000]
        ]
        return table_response(fmt=_export(request), filename=f"{community.slug}-members", columns=columns, rows=data)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    for row in page:
        row.phone = row.member.phone if owner else mask_phone(row.member.phone)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "analytics/members.html",
        {"community": community, "form": form, "page": page, "query": query.urlencode(), "group": chosen},
    )


@require_GET
@community_page
def survey(request: HttpRequest, community: Community) -> HttpResponse:
    if not selectors.visible_groups(request.user, community).exists():
        raise Http404
    tables = selectors.survey_pivot(request.user, community)
    if _export(request) == "csv":
        rows = [
            {"question": table["question"], "answer": answer, "group": group, "count": count}
            for table in tables
            for answer, counts in table["rows"]
            for group, count in zip(table["groups"], counts, strict=True)
        ]
        columns = [("question", _("Question")), ("answer", _("Answer")), ("group", _("Group")), ("count", _("Count"))]
        return table_response(fmt="csv", filename=f"{community.slug}-survey", columns=columns, rows=rows)
    if _export(request):
        if _export(request) != "xlsx":
            raise Http404
        sheets = [
            (
                f"Q{index}",
                [table["question"], *table["groups"]],
                [[answer, *counts] for answer, counts in table["rows"]],
            )
            for index, table in enumerate(tables, start=1)
        ] or [("Survey", [_("No answers yet.")], [])]
        return workbook_response(filename=f"{community.slug}-survey", sheets=sheets)
    return render(request, "analytics/survey.html", {"community": community, "tables": tables})


def _require_hub(request: HttpRequest, community: Community) -> None:
    if not selectors.hub_visible(request.user, community):
        raise Http404


@require_GET
@community_page
def report_list(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    return render(
        request,
        "analytics/reports.html",
        {
            "community": community,
            "reports": selectors.reports(community)[:52],
            "can_generate": can(request.user, Capability.MANAGE_TREE, community.hub),
        },
    )


@require_POST
@community_page
def report_generate(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    if not can(request.user, Capability.MANAGE_TREE, community.hub):
        raise PermissionDenied
    report = reports.health_report_generate(community=community)
    messages.success(request, _("The report for the week of %(week)s is ready.") % {"week": report.week_start})
    return redirect("analytics:report", community.slug, report.week_start.isoformat())


@require_GET
@community_page
def report_detail(request: HttpRequest, community: Community, week: str) -> HttpResponse:
    _require_hub(request, community)
    try:
        week_start = date.fromisoformat(week)
    except ValueError:
        raise Http404 from None
    report = get_object_or_404(selectors.reports(community), week_start=week_start)
    data = report.data
    if _export(request):
        if _export(request) != "xlsx":
            raise Http404
        return _report_xlsx(community, report)
    return render(
        request,
        "analytics/report.html",
        {
            "community": community,
            "report": report,
            "data": data,
            "states": [(MemberState(key).label, count) for key, count in data.get("states", {}).items()],
            "alerts": [(AlertKind(key).label, count) for key, count in data.get("alerts", {}).items()],
        },
    )


def _report_xlsx(community: Community, report) -> HttpResponse:
    data = report.data
    group_columns = [
        ("name", _("Group")),
        ("sibling_rank", _("Rank among siblings")),
        ("members", _("Members")),
        ("joins", _("Joins")),
        ("leaves", _("Leaves")),
        ("speaking_rate_week", _label("speaking_rate_week")),
        ("speaking_rate_change", _("Change")),
        ("messages_per_member", _label("messages_per_member")),
        ("interaction_rate", _label("interaction_rate")),
        ("quit_rate_week", _label("quit_rate_week")),
        ("dau_rate", _label("dau_rate")),
        ("grade", _("Health grade")),
    ]
    summary = [
        (key, data.get("community", {}).get(key), data.get("previous", {}).get(key)) for key in reports.REPORT_METRICS
    ]
    sheets = [
        (str(_("Community")), [_("Figure"), _("This week"), _("Week before")], summary),
        (
            str(pgettext("report sheet", "Groups")),
            [str(label) for _key, label in group_columns],
            [[row.get(key) for key, _label_ in group_columns] for row in data.get("groups", [])],
        ),
    ]
    return workbook_response(filename=f"{community.slug}-health-{report.week_start}", sheets=sheets)


class ThresholdsForm(forms.ModelForm):
    class Meta:
        model = AnalyticsSettings
        fields = [
            "active_messages_per_week", "silent_days", "churned_days", "high_value_days",
            "high_value_messages_per_day", "churn_horizon_days", "risk_medium", "risk_high",
            "speaking_rate_week_min", "speaking_rate_month_min", "messages_per_member_min", "interaction_rate_min",
            "quit_rate_week_max", "quit_rate_month_max", "unanswered_questions_max", "unanswered_after_hours",
            "keep_message_text",
        ]  # fmt: skip

    def clean(self):
        values = super().clean()
        medium, high = values.get("risk_medium"), values.get("risk_high")
        if medium is not None and high is not None and medium >= high:
            self.add_error("risk_high", _("High risk must start above medium risk."))
        if values.get("silent_days") and values.get("churned_days") and values["silent_days"] >= values["churned_days"]:
            self.add_error("churned_days", _("Churned must come after silent."))
        return values


@require_http_methods(["GET", "POST"])
@community_page
def thresholds(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    editable = can(request.user, Capability.MANAGE_TREE, community.hub)
    instance = settings_for(community)
    form = ThresholdsForm(request.POST or None, instance=instance)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if form.is_valid():
            with transaction.atomic():
                saved = form.save(commit=False)
                saved.community = community
                saved.save()
            messages.success(request, _("Thresholds saved. They apply from the next computation."))
            return redirect("analytics:thresholds", community.slug)
    return render(request, "analytics/thresholds.html", {"community": community, "form": form, "editable": editable})


@require_POST
@community_page
def alert_dismiss(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    alert = get_object_or_404(selectors.open_alerts(request.user, community), pk=pk)
    if not can(request.user, Capability.MANAGE_MEMBERS, alert.group):
        raise PermissionDenied
    Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.DISMISSED, resolved_at=timezone.now(), resolved_by=request.user
    )
    messages.success(request, _("Alert dismissed for a week."))
    return redirect("analytics:overview", community.slug)


@require_POST
@community_page
def compute_now(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    if not can(request.user, Capability.MANAGE_TREE, community.hub):
        raise PermissionDenied
    from analytics.tasks import compute_community

    transaction.on_commit(lambda: compute_community.delay(community.pk), robust=True)
    messages.success(request, _("The numbers are being computed; reload in a moment."))
    return redirect("analytics:overview", community.slug)
