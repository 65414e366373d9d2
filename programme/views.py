"""Admin programme pages: the dashboard of one group (team shape, online hours, candidates and
rounds, assessments, rotation) and the members' public voting page. Anyone who may see the
group sees the dashboard; acting on it needs manage-members on the group. Outsiders get 404."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.services.metrics import local_today
from core.errors import ApplicationError
from core.forms import add_application_error
from engagement.services.passes import member_for_pass, pass_holder
from members.models import AdminAssessment, Role
from members.permissions import can, can_change_role, groups_where
from programme import selectors, services
from programme.forms import MonthForm, RotationForm, RoundForm
from programme.models import Nomination, PeerVote, RoundStatus, VotingRound
from subgroups.access import Capability
from subgroups.locale import member_page
from subgroups.models import Community, Group
from subgroups.views import community_page

CHART_MEMBERS = 15
PREVIEW_ROWS = 10
NOMINEES_SHOWN = 30


def _visible_groups(request: HttpRequest, community: Community):
    return groups_where(request.user, Capability.VIEW).filter(community=community).order_by("tree_id", "lft")


def _group(request: HttpRequest, community: Community, pk) -> Group:
    try:
        return _visible_groups(request, community).get(pk=int(pk))
    except (Group.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def _require_manage(request: HttpRequest, group: Group) -> None:
    if not can(request.user, Capability.MANAGE_MEMBERS, group):
        raise PermissionDenied


def _back(community: Community, group: Group) -> HttpResponse:
    return redirect(f"{reverse('programme:overview', args=[community.slug])}?group={group.pk}")


def _month_param(raw: str | None, fallback: date) -> date:
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        return date(year, month, 1) if 2000 <= year <= 2100 and 1 <= month <= 12 else fallback
    except ValueError:
        return fallback


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _visible_groups(request, community)
    raw = request.GET.get("group")
    if raw:
        group = _group(request, community, raw)
    else:
        group = groups.filter(pk=community.hub_id).first() or groups.first()
        if group is None:
            raise Http404
    return _page(request, community, group)


def _page(request: HttpRequest, community: Community, group: Group, *, status: int = 200, **forms) -> HttpResponse:
    today = local_today(community)
    last_month = selectors.previous_month(today)
    rotation_month = _month_param(request.GET.get("month"), last_month)
    if rotation_month > today:
        rotation_month = last_month
    rounds = list(selectors.rounds_for_group(group)[:4])
    open_round = next((item for item in rounds if item.status == RoundStatus.OPEN), None)
    threshold = open_round.threshold_hours if open_round else 15
    # Those at the threshold first: a cheap count rules out everyone else. Only when too few
    # reach it for the chart are all members' hours needed.
    mondays, hours_rows = selectors.weekly_online_hours(group=group, min_average=threshold)
    if len(hours_rows) < CHART_MEMBERS:
        mondays, hours_rows = selectors.weekly_online_hours(group=group)
    top_rows = hours_rows[:CHART_MEMBERS]
    scale = max([threshold, *(row.average for row in top_rows)]) * 1.1
    preview = selectors.rotation_preview(group=group, month=rotation_month)
    can_manage = can(request.user, Capability.MANAGE_MEMBERS, group)
    context = {
        "community": community,
        "group": group,
        "groups": _visible_groups(request, community),
        "can_manage": can_manage,
        "shape": selectors.team_shape(group=group),
        "mondays": mondays,
        "threshold": threshold,
        "chart": [
            {
                "row": row,
                "width": round(100 * row.average / scale, 1),
                "over": row.average >= threshold,
            }
            for row in top_rows
        ],
        "threshold_at": round(100 * threshold / scale, 1),
        "candidates": [row for row in hours_rows if row.average >= threshold and not row.is_staff][:20],
        "open_round": open_round,
        "rounds": [_round_summary(item) for item in rounds],
        "assessments": AdminAssessment.objects.filter(group=group)
        .select_related("member", "assessed_by")
        .order_by("-month", "member__display_name")[:30],
        "last_month": last_month,
        "rotation_month": rotation_month,
        "rotation_term": _term(group, rotation_month),
        "preview": preview[:PREVIEW_ROWS],
        "round_form": forms.get("round_form") or RoundForm(initial={"month": today.replace(day=1)}),
        "assess_form": forms.get("assess_form") or MonthForm(initial={"month": last_month}),
        "rotation_form": forms.get("rotation_form") or RotationForm(initial={"month": rotation_month, "top": 3}),
    }
    return render(request, "programme/overview.html", context, status=status)


def _round_summary(voting_round: VotingRound) -> dict:
    results = selectors.round_results(voting_round)  # qualified first, then by recognition
    return {
        "round": voting_round,
        "results": results[:NOMINEES_SHOWN],
        "more": max(len(results) - NOMINEES_SHOWN, 0),
        "count": len(results),
        "qualified": sum(result.qualified for result in results),
    }


def _term(group: Group, month: date) -> date | None:
    try:
        return services.rotation_term(group=group, month=month)
    except ApplicationError:
        return None


@require_POST
@community_page
def round_create(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = _group(request, community, pk)
    _require_manage(request, group)
    form = RoundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            voting_round = services.round_create(
                group=group,
                month=data["month"],
                days=data["days"],
                threshold_hours=data["threshold_hours"],
                threshold_recognition=data["threshold_recognition"] / 100,
                min_votes=data["min_votes"],
                note=data["note"],
                by=request.user,
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            count = voting_round.nominations.count()
            messages.success(request, _("Round opened with %(count)d nominees.") % {"count": count})
            return _back(community, group)
    return _page(request, community, group, status=400, round_form=form)


def _round(request: HttpRequest, community: Community, pk: int) -> VotingRound:
    voting_round = get_object_or_404(VotingRound.objects.select_related("group"), community=community, pk=pk)
    if not _visible_groups(request, community).filter(pk=voting_round.group_id).exists():
        raise Http404
    return voting_round


@require_POST
@community_page
def round_close(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    voting_round = _round(request, community, pk)
    _require_manage(request, voting_round.group)
    services.round_close(voting_round=voting_round)
    messages.success(request, _("Round closed."))
    return _back(community, voting_round.group)


@require_POST
@community_page
def appoint(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    nomination = get_object_or_404(
        Nomination.objects.select_related("round__group", "member"), round__community=community, pk=pk
    )
    group = _round(request, community, nomination.round_id).group
    _require_manage(request, group)
    if not can_change_role(request.user, member=nomination.member, group=group, role=Role.ADMIN):
        raise PermissionDenied
    try:
        services.nominee_appoint(nomination=nomination, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(name)s is now an admin of %(group)s.") % {"name": nomination.member.display_name, "group": group.name},
        )
    return _back(community, group)


@require_POST
@community_page
def assess(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = _group(request, community, pk)
    _require_manage(request, group)
    form = MonthForm(request.POST)
    if form.is_valid():
        try:
            results = services.assessments_compute(group=group, month=form.cleaned_data["month"])
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            kept = sum(result.kept for result in results)
            messages.success(
                request,
                _("%(count)d assessments computed; %(kept)d corrected by hand were kept.")
                % {"count": len(results) - kept, "kept": kept},
            )
            return _back(community, group)
    return _page(request, community, group, status=400, assess_form=form)


@require_POST
@community_page
def rotate(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = _group(request, community, pk)
    _require_manage(request, group)
    form = RotationForm(request.POST)
    if form.is_valid():
        try:
            guides = services.rotation_run(group=group, month=form.cleaned_data["month"], top=form.cleaned_data["top"])
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            names = "、".join(guide.member.display_name for guide in guides) or "—"
            messages.success(request, _("Temporary guides: %(names)s.") % {"names": names})
            return _back(community, group)
    return _page(request, community, group, status=400, rotation_form=form)


# --- The members' side ------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(pass_holder)
def vote(request: HttpRequest, token: str) -> HttpResponse:
    """A member's ballot, reached by their private link: the open rounds of their groups, each
    nominee with approve / not yet. Whoever holds the link votes as the member."""
    member = member_for_pass(token)
    rounds = [item for item in selectors.open_rounds_for_voter(member) if item.accepts_votes()]
    error = ""
    if request.method == "POST":
        try:
            round_id, nomination_id = int(request.POST.get("round", "")), int(request.POST.get("nominee", ""))
        except ValueError:
            raise Http404 from None
        voting_round = next((item for item in rounds if item.pk == round_id), None)
        nomination = Nomination.objects.filter(round_id=round_id, pk=nomination_id).first()
        if voting_round is None or nomination is None:
            raise Http404
        try:
            services.vote_cast(
                voting_round=voting_round, nominee=nomination, voter=member, approve=request.POST.get("approve") == "1"
            )
        except ApplicationError as refused:
            error = refused.message
        else:
            return redirect(f"{reverse('programme:vote', args=[token])}#round-{voting_round.pk}")
    mine = dict(PeerVote.objects.filter(voter=member, round__in=rounds).values_list("nominee_id", "approve"))
    ballots = [
        {
            "round": item,
            "nominees": [
                {"nomination": nomination, "vote": mine.get(nomination.pk)}
                for nomination in item.nominations.select_related("member").order_by("member__display_name", "pk")
                if nomination.member_id != member.pk
            ],
        }
        for item in rounds
    ]
    return render(
        request,
        "programme/vote.html",
        {"member": member, "community": member.community, "ballots": ballots, "error": error, "token": token},
        status=400 if error else 200,
    )
