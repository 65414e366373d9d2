"""Fission pages on the dashboard: the fission coefficient per group, live code and campaign,
top inviters and rejected referrals (all scoped to the groups the user sees), and the
campaigns. Community-wide actions (crediting now, campaigns) need manage-the-tree on the hub;
outsiders get a 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import table_response
from core.errors import ApplicationError
from core.forms import add_application_error
from fission import selectors
from fission.forms import CampaignForm
from fission.models import BENCHMARK_COEFFICIENT, Campaign
from fission.services.campaigns import campaign_delete, campaign_save
from fission.services.referrals import referrals_credit
from members.permissions import can, can_see_personal_data
from members.privacy import mask_phone
from subgroups.access import Capability
from subgroups.models import Community
from subgroups.views import community_page


def _visible_or_404(request: HttpRequest, community: Community):
    groups = selectors.visible_groups(request.user, community)
    if not groups.exists():
        raise Http404
    return groups


def _manages(request: HttpRequest, community: Community) -> bool:
    return community.hub_id is not None and can(request.user, Capability.MANAGE_TREE, community.hub)


def _require_manage(request: HttpRequest, community: Community) -> None:
    if not _manages(request, community):
        raise PermissionDenied


def _period(request: HttpRequest) -> str:
    period = request.GET.get("period", selectors.DEFAULT_PERIOD)
    return period if period in selectors.PERIODS else selectors.DEFAULT_PERIOD


def _periods() -> list[tuple[str, str]]:
    return [("30", _("30 days")), ("90", _("90 days")), ("365", _("a year")), ("all", _("all time"))]


def _sheet_text(value):
    """Spreadsheets run cells that start with = + - @ as formulas; defuse names."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    period = _period(request)
    data = selectors.overview(request.user, community, period=period)
    shows_phones = can_see_personal_data(request.user, community)
    inviters = [
        {**row, "phone": row["member"].phone if shows_phones else mask_phone(row["member"].phone)}
        for row in selectors.top_inviters(data["referrals"])
    ]
    export = request.GET.get("export", "")
    if export:
        return _export(community, period, request.GET.get("table", "groups"), export, data, inviters)
    context = {
        "community": community,
        "period": period,
        "periods": _periods(),
        "benchmark": BENCHMARK_COEFFICIENT,
        "total": data["total"],
        "groups": data["groups"],
        "live_codes": data["live_codes"],
        "campaigns": data["campaigns"],
        "weekly": data["weekly"],
        "group_chart": selectors.group_chart(data["groups"]),
        "weekly_chart": selectors.weekly_chart(
            data["weekly"],
            labels=(
                _("Coefficient to date"),
                _("That week"),
                _("Benchmark %(value)s") % {"value": BENCHMARK_COEFFICIENT},
            ),
        ),
        "inviters": inviters,
        "rejected": selectors.rejected(data["referrals"]),
        "manages": _manages(request, community),
        "waiting": selectors.pending_count(request.user, community),
    }
    return render(request, "fission/overview.html", context)


def _figures_columns() -> list[tuple[str, str]]:
    return [
        ("new_members", _("New members")),
        ("inviters", _("Inviters")),
        ("coefficient", _("Fission coefficient")),
        ("rejected", _("Rejected")),
    ]


def _figures(row: dict) -> dict:
    return {key: row[key] for key, _label in _figures_columns()}


def _export(community: Community, period: str, table: str, fmt: str, data: dict, inviters: list[dict]) -> HttpResponse:
    if table == "groups":
        columns = [("group", _("Group")), ("own_new_members", _("Joined this group")), *_figures_columns()]
        rows = [
            {"group": _sheet_text(row["group"].name), "own_new_members": row["own"]["new_members"], **_figures(row)}
            for row in data["groups"]
        ]
    elif table == "live_codes":
        columns = [("live_code", _("Live code")), *_figures_columns()]
        rows = [{"live_code": _sheet_text(row["live_code"].name), **_figures(row)} for row in data["live_codes"]]
    elif table == "campaigns":
        columns = [
            ("campaign", _("Campaign")),
            ("starts_at", _("Starts")),
            ("ends_at", _("Ends")),
            ("goal", _("Friends to invite")),
            ("completions", _("Completed")),
            *_figures_columns(),
        ]
        rows = [
            {
                "campaign": _sheet_text(row["campaign"].name),
                "starts_at": row["campaign"].starts_at.isoformat(),
                "ends_at": row["campaign"].ends_at.isoformat(),
                "goal": row["campaign"].goal_invites,
                "completions": row["completions"],
                **_figures(row),
            }
            for row in data["campaigns"]
        ]
    elif table == "inviters":
        columns = [("member", _("Member")), ("phone", _("Phone")), ("new_members", _("New members"))]
        columns.append(("rejected", _("Rejected")))
        rows = [
            {
                "member": _sheet_text(row["member"].display_name),
                "phone": row["phone"],
                "new_members": row["new_members"],
                "rejected": row["rejected"],
            }
            for row in inviters
        ]
    elif table == "weekly":
        columns = [
            ("week", _("Week")),
            *_figures_columns()[:3],
            ("new_members_to_date", _("New members to date")),
            ("inviters_to_date", _("Inviters to date")),
            ("coefficient_to_date", _("Coefficient to date")),
        ]
        rows = [
            {"week": row["week"].isoformat(), **{key: row[key] for key, _label in columns[1:]}}
            for row in data["weekly"]
        ]
    else:
        raise Http404
    return table_response(fmt=fmt, filename=f"{community.slug}-fission-{table}-{period}", columns=columns, rows=rows)


@require_POST
@community_page
def credit_now(request: HttpRequest, community: Community) -> HttpResponse:
    _require_manage(request, community)
    result = referrals_credit(community=community)
    messages.success(
        request,
        _("Checked: %(credited)d credited, %(rejected)d rejected, %(completed)d invite tasks completed.")
        % {
            "credited": result.get("credited", 0),
            "rejected": result.get("rejected", 0),
            "completed": result.get("completed", 0),
        },
    )
    return redirect("fission:overview", community.slug)


# --- Campaigns ----------------------------------------------------------------------------------


def _campaign_values(form: CampaignForm) -> dict:
    values = dict(form.cleaned_data)
    values["reward_url"] = values.get("reward_url") or ""
    return values


@require_http_methods(["GET", "POST"])
@community_page
def campaign_list(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _visible_or_404(request, community)
    manages = _manages(request, community)
    form = CampaignForm(request.POST or None, groups=groups.exclude(status="archived"))
    if request.method == "POST":
        _require_manage(request, community)
        if form.is_valid():
            try:
                campaign = campaign_save(community=community, **_campaign_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Campaign “%(name)s” created.") % {"name": campaign.name})
                return redirect("fission:campaign", community.slug, campaign.pk)
    referrals = selectors.referrals_for(request.user, community)
    return render(
        request,
        "fission/campaigns.html",
        {
            "community": community,
            "campaigns": selectors.by_campaign(referrals, community),
            "form": form,
            "manages": manages,
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def campaign_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    groups = _visible_or_404(request, community)
    campaign = get_object_or_404(Campaign.objects.select_related("group"), community=community, pk=pk)
    manages = _manages(request, community)
    initial = {
        name: getattr(campaign, name)
        for name in (
            "name", "starts_at", "ends_at", "group", "goal_invites", "reward_text", "reward_points", "reward_url",
            "is_active",
        )
    }  # fmt: skip
    data = request.POST if request.method == "POST" and not request.POST.get("delete") else None
    form = CampaignForm(data, initial=initial, groups=groups.exclude(status="archived"))
    if request.method == "POST":
        _require_manage(request, community)
        if request.POST.get("delete"):
            try:
                campaign_delete(campaign=campaign)
            except ApplicationError as error:
                messages.error(request, error.message)
                return redirect("fission:campaign", community.slug, campaign.pk)
            messages.success(request, _("Campaign deleted."))
            return redirect("fission:campaigns", community.slug)
        if form.is_valid():
            try:
                campaign_save(community=community, campaign=campaign, **_campaign_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Campaign saved."))
                return redirect("fission:campaign", community.slug, campaign.pk)
    referrals = selectors.referrals_for(request.user, community).filter(campaign=campaign)
    shows_phones = can_see_personal_data(request.user, community)
    inviters = [
        {**row, "phone": row["member"].phone if shows_phones else mask_phone(row["member"].phone)}
        for row in selectors.top_inviters(referrals, limit=20)
    ]
    return render(
        request,
        "fission/campaign.html",
        {
            "community": community,
            "campaign": campaign,
            "figures": selectors.totals(referrals),
            "completions": selectors.completions(campaign, referrals),
            "inviters": inviters,
            "form": form,
            "manages": manages,
        },
        status=400 if form.errors else 200,
    )
