"""Engagement pages: the overview, members' points and ledgers, the rewards shop, the rules and
levels, and organised events. Anyone who may see a group sees its members' check-ins and
points; community-wide settings (rules, levels, the shop's items, running the sweeps) need
manage-tree on the hub; handing over or cancelling a redemption and recording an event need
manage-members. Outsiders get a 404, insiders without the capability a 403."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import table_response
from core.errors import ApplicationError
from core.forms import add_application_error
from engagement import selectors
from engagement.forms import LevelFormSet, MemberSearchForm, OrganisedEventForm, RewardForm, RulesForm
from engagement.models import Level, RedemptionStatus, RewardItem
from engagement.services.levels import levels_for, levels_save
from engagement.services.organised import organised_event_record
from engagement.services.passes import member_pass
from engagement.services.points import RULE_FIELDS, points_rules, points_rules_save
from engagement.services.shop import redemption_cancel, redemption_fulfil, reward_save
from members.models import Member
from members.permissions import groups_where
from subgroups.access import Capability
from subgroups.models import Community
from subgroups.views import community_page


def _visible_or_404(request: HttpRequest, community: Community) -> None:
    if not selectors.visible_groups(request.user, community).exists():
        raise Http404


def _require_manager(request: HttpRequest, community: Community) -> None:
    if not selectors.manages_community(request.user, community):
        raise PermissionDenied


# --- Overview -------------------------------------------------------------------------------------


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    recent = selectors.entries_for(request.user, community).select_related("member").order_by("-created_at", "-pk")
    context = {
        "community": community,
        "stats": selectors.overview(request.user, community),
        "levels": selectors.level_distribution(request.user, community),
        "recent": [(entry, selectors.reason_label(entry.reason)) for entry in recent[:20]],
        "manager": selectors.manages_community(request.user, community),
        "streak_goal": selectors.STREAK_GOAL,
    }
    return render(request, "engagement/overview.html", context)


@require_POST
@community_page
def sweep_now(request: HttpRequest, community: Community) -> HttpResponse:
    _require_manager(request, community)
    from engagement.tasks import sweeps_community

    transaction.on_commit(lambda: sweeps_community.delay(community.pk, True), robust=True)
    messages.success(request, _("The sweeps are running: check-ins from events and points for posts."))
    return redirect("engagement:overview", community.slug)


# --- Members and their ledgers ------------------------------------------------------------------


@require_GET
@community_page
def member_list(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    form = MemberSearchForm(request.GET or None)
    search = sort = ""
    if form.is_valid():
        search, sort = form.cleaned_data["q"], form.cleaned_data["sort"]
    members = selectors.members_with_points(request.user, community, search=search, sort=sort or "name")
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    standings = selectors.standings_for(community, [member.pk for member in page])
    rows = [{"member": member, "standing": standings[member.pk]} for member in page]
    return render(
        request,
        "engagement/members.html",
        {"community": community, "form": form, "page": page, "rows": rows, "search": search, "sort": sort},
    )


@require_GET
@community_page
def member_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _visible_or_404(request, community)
    member = get_object_or_404(selectors.visible_members(request.user, community), pk=pk)
    lines = selectors.ledger(member)
    export = request.GET.get("export", "")
    if export:
        columns = [
            ("when", _("When")), ("reason", _("Reason")), ("note", _("Note")), ("amount", _("Points")),
            ("balance", _("Balance")), ("key", _("Key")),
        ]  # fmt: skip
        rows = [
            {
                "when": line.entry.created_at,
                "reason": line.label,
                "note": line.entry.note,
                "amount": line.entry.amount,
                "balance": line.balance,
                "key": line.entry.key or "",
            }
            for line in lines
        ]
        return table_response(fmt=export, filename=f"{community.slug}-points-{member.pk}", columns=columns, rows=rows)
    manages = selectors.manages_member(request.user, member)
    context = {
        "community": community,
        "member": member,
        "standing": selectors.member_standing(member),
        "lines": list(reversed(lines)),
        "check_ins": member.check_ins.select_related("group").order_by("-day")[:30],
        "redemptions": member.redemptions.select_related("item", "by").order_by("-created_at")[:50],
        "events": member.organised_events.select_related("group").order_by("-held_on")[:20],
        "pass_url": request.build_absolute_uri(reverse("engagement:me", args=[member_pass(member=member).token]))
        if manages
        else "",
        "manages": manages,
    }
    return render(request, "engagement/member.html", context)


# --- The shop ------------------------------------------------------------------------------------


def _levels(community: Community):
    levels_for(community=community)
    return Level.objects.filter(community=community).order_by("threshold")


def _reward_values(form: RewardForm) -> dict:
    values = dict(form.cleaned_data)
    values["requires_streak"] = values.get("requires_streak") or 0
    return values


@require_http_methods(["GET", "POST"])
@community_page
def shop(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    manager = selectors.manages_community(request.user, community)
    form = RewardForm(request.POST or None, levels=_levels(community), initial={"is_active": True})
    if request.method == "POST":
        if not manager:
            raise PermissionDenied
        if form.is_valid():
            try:
                item = reward_save(community=community, **_reward_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("“%(item)s” is in the shop.") % {"item": item.name})
                return redirect("engagement:shop", community.slug)
    status = request.GET.get("status", "")
    redemptions = selectors.redemptions_for(request.user, community).order_by("-created_at", "-pk")
    if status in RedemptionStatus.values:
        redemptions = redemptions.filter(status=status)
    page = Paginator(redemptions, 50).get_page(request.GET.get("page"))
    managed = selectors.managed_member_ids(request.user, community, [row.member_id for row in page])
    for row in page:
        row.handles = row.member_id in managed and row.status == RedemptionStatus.PENDING
    counts = dict(
        selectors.redemptions_for(request.user, community)
        .exclude(status=RedemptionStatus.CANCELLED)
        .order_by()
        .values_list("item_id")
        .annotate(total=Count("pk"))
    )
    items = list(selectors.rewards(community))
    for item in items:
        item.redeemed = counts.get(item.pk, 0)
    return render(
        request,
        "engagement/shop.html",
        {
            "community": community,
            "items": items,
            "form": form,
            "manager": manager,
            "page": page,
            "status": status,
            "statuses": RedemptionStatus.choices,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def item_edit(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _visible_or_404(request, community)
    item = get_object_or_404(RewardItem, community=community, pk=pk)
    manager = selectors.manages_community(request.user, community)
    initial = {
        name: getattr(item, name)
        for name in (
            "name", "description", "cost", "stock", "per_member_limit", "requires_level", "requires_streak",
            "is_active",
        )
    }  # fmt: skip
    form = RewardForm(request.POST or None, levels=_levels(community), initial=initial)
    if request.method == "POST":
        if not manager:
            raise PermissionDenied
        if form.is_valid():
            try:
                reward_save(community=community, item=item, **_reward_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Saved."))
                return redirect("engagement:shop", community.slug)
    redemptions = selectors.redemptions_for(request.user, community).filter(item=item).order_by("-created_at")[:100]
    return render(
        request,
        "engagement/item.html",
        {"community": community, "item": item, "form": form, "manager": manager, "redemptions": redemptions},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@community_page
def redemption_action(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    redemption = get_object_or_404(selectors.redemptions_for(request.user, community), pk=pk)
    if not selectors.manages_member(request.user, redemption.member):
        raise PermissionDenied
    action = request.POST.get("action", "")
    try:
        if action == "fulfil":
            redemption_fulfil(redemption=redemption, by=request.user)
            messages.success(request, _("Marked as handed over."))
        elif action == "cancel":
            redemption_cancel(redemption=redemption, by=request.user)
            messages.success(
                request, _("Cancelled; %(points)d points went back to the member.") % {"points": redemption.cost}
            )
        else:
            raise Http404
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(_back(request, reverse("engagement:shop", args=[community.slug])))


def _back(request: HttpRequest, fallback: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --- Rules and levels -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def rules(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    manager = selectors.manages_community(request.user, community)
    current = points_rules(community=community)
    levels = levels_for(community=community)
    which = request.POST.get("form") if request.method == "POST" else ""
    rules_form = RulesForm(
        request.POST if which == "rules" else None, initial={name: getattr(current, name) for name in RULE_FIELDS}
    )
    if which == "levels":
        # Bound without initial values, so that every filled row counts as a row.
        level_forms = LevelFormSet(request.POST, prefix="levels")
    else:
        level_forms = LevelFormSet(
            initial=[{"id": level.pk, "name": level.name, "threshold": level.threshold} for level in levels],
            prefix="levels",
        )
    if request.method == "POST":
        if not manager:
            raise PermissionDenied
        if which == "rules" and rules_form.is_valid():
            try:
                points_rules_save(community=community, **rules_form.cleaned_data)
            except ApplicationError as error:
                add_application_error(rules_form, error)
            else:
                messages.success(request, _("Points rules saved."))
                return redirect("engagement:rules", community.slug)
        if which == "levels" and level_forms.is_valid():
            rows = [
                {
                    "id": data.get("id"),
                    "name": data.get("name") or "",
                    "threshold": data.get("threshold"),
                    "delete": bool(data.get("DELETE")),
                }
                for data in level_forms.cleaned_data
                if data and (data.get("id") or data.get("name"))
            ]
            try:
                levels_save(community=community, levels=rows)
            except ApplicationError as error:
                level_forms._non_form_errors = level_forms.error_class([error.message])
            else:
                messages.success(request, _("Levels saved."))
                return redirect("engagement:rules", community.slug)
    return render(
        request,
        "engagement/rules.html",
        {"community": community, "rules_form": rules_form, "level_forms": level_forms, "manager": manager},
        status=400 if request.method == "POST" else 200,
    )


# --- Organised events ----------------------------------------------------------------------------


def _organiser(community: Community, user, raw: str) -> Member:
    raw = raw.strip()
    members = selectors.visible_members(user, community)
    if raw.isdigit():
        found = members.filter(pk=int(raw)).first()
        if found:
            return found
    matches = list(members.filter(display_name=raw)[:2])
    if not matches:
        raise ApplicationError(_("No member of yours is called “%(name)s”.") % {"name": raw}, field="organiser")
    if len(matches) > 1:
        raise ApplicationError(
            _("Several members are called “%(name)s”: give the id instead.") % {"name": raw}, field="organiser"
        )
    return matches[0]


@require_http_methods(["GET", "POST"])
@community_page
def events(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    groups = (
        groups_where(request.user, Capability.MANAGE_MEMBERS).filter(community=community).order_by("tree_id", "lft")
    )
    form = OrganisedEventForm(request.POST or None, groups=groups)
    if request.method == "POST":
        if not groups.exists():
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                organiser = _organiser(community, request.user, data["organiser"])
                recorded = organised_event_record(
                    group=data["group"],
                    organiser=organiser,
                    title=data["title"],
                    held_on=data["held_on"],
                    attendees=data["attendees"],
                    by=request.user,
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(
                    request,
                    _("Recorded; %(name)s earned %(points)d points.")
                    % {"name": organiser.display_name, "points": recorded.points},
                )
                return redirect("engagement:events", community.slug)
    page = Paginator(selectors.organised_events_for(request.user, community), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "engagement/events.html",
        {"community": community, "form": form, "page": page, "can_record": groups.exists()},
        status=400 if request.method == "POST" else 200,
    )
