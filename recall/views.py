"""Recall pages: the funnel overview, policies and stages, coupon pools, the call list, the
attempts and the exit report. Anyone who may see a group sees its numbers; running recall
(policies, calls) needs the run-recall capability. Outsiders get a 404."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import table_response
from core.errors import ApplicationError
from core.forms import add_application_error
from members.permissions import can, can_see_personal_data
from members.privacy import mask_phone
from recall import selectors
from recall.forms import CallForm, CodesForm, PolicyForm, PoolForm, StageForm
from recall.models import (
    AttemptStatus,
    Channel,
    CouponPool,
    ExitReason,
    OptOutSource,
    RecallPolicy,
    RecallStage,
)
from recall.services import outcomes, policies
from subgroups.access import Capability
from subgroups.models import Community
from subgroups.views import community_page

PERIODS = {"30": 30, "90": 90, "365": 365}


def _visible_or_404(request: HttpRequest, community: Community):
    groups = selectors.visible_groups(request.user, community)
    if not groups.exists():
        raise Http404
    return groups


def _runs_recall(request: HttpRequest, community: Community) -> bool:
    return community.hub_id is not None and can(request.user, Capability.RUN_RECALL, community.hub)


def _require_recall(request: HttpRequest, community: Community) -> None:
    if not _runs_recall(request, community):
        raise PermissionDenied


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _visible_or_404(request, community)
    period = request.GET.get("period", "90")
    days = PERIODS.get(period, 90)
    attempts = selectors.attempts_for(request.user, community).filter(
        scheduled_at__gte=timezone.now() - timedelta(days=days)
    )
    data = selectors.funnel(attempts)
    export = request.GET.get("export", "")
    if export:
        columns = [("policy", _("Policy")), ("stage", _("Stage")), ("channel", _("Channel"))]
        columns += [(step, selectors.step_label(step)) for step in selectors.STEPS]
        columns += [("failed", _("Failed")), ("cost", _("Gift cost")), ("cost_per_recovery", _("Cost per recovery"))]
        rows = [
            {
                "policy": row["stage"].policy.name,
                "stage": row["stage"].name,
                "channel": row["channel"].label,
                **{step: row[step] for step in selectors.STEPS},
                "failed": row["failed"],
                "cost": row["cost"],
                "cost_per_recovery": row["cost_per_recovery"],
            }
            for row in data["rows"]
        ]
        return table_response(fmt=export, filename=f"{community.slug}-recall-funnel", columns=columns, rows=rows)
    context = {
        "community": community,
        "period": period,
        "periods": [("30", _("30 days")), ("90", _("90 days")), ("365", _("a year"))],
        "funnel": data,
        "steps": [(step, selectors.step_label(step)) for step in selectors.STEPS],
        "kpis": [
            {
                "step": step,
                "label": selectors.step_label(step),
                "count": data["total"][step],
                "rate": data["total"]["rates"][step],
            }
            for step in selectors.STEPS
        ],
        "chart": selectors.funnel_chart(data),
        "ab_tests": selectors.ab_tests(attempts),
        "recovered": selectors.recovered_members(attempts),
        "cycles": selectors.cycles_now(community, groups),
        "runs_recall": _runs_recall(request, community),
        "has_policy": selectors.policies(community).exists(),
    }
    return render(request, "recall/overview.html", context)


@require_POST
@community_page
def run_now(request: HttpRequest, community: Community) -> HttpResponse:
    _require_recall(request, community)
    from recall.tasks import recall_community

    transaction.on_commit(lambda: recall_community.delay(community.pk), robust=True)
    messages.success(request, _("Recall is running; reload in a moment to see what it planned."))
    return redirect("recall:overview", community.slug)


# --- Policies, stages and coupons ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def policy_list(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    editable = _runs_recall(request, community)
    policy_form = PolicyForm(request.POST if request.POST.get("form") == "policy" else None, prefix="policy")
    pool_form = PoolForm(request.POST if request.POST.get("form") == "pool" else None, prefix="pool")
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if request.POST.get("form") == "default":
            policy = policies.policy_default(community=community)
            messages.success(request, _("The default policy is ready: day 30, 37 and 60."))
            return redirect("recall:policy", community.slug, policy.pk)
        if request.POST.get("form") == "policy" and policy_form.is_valid():
            try:
                policy = policies.policy_save(community=community, **policy_form.cleaned_data)
            except ApplicationError as error:
                add_application_error(policy_form, error)
            else:
                return redirect("recall:policy", community.slug, policy.pk)
        if request.POST.get("form") == "pool" and pool_form.is_valid():
            try:
                policies.pool_create(community=community, **pool_form.cleaned_data)
            except ApplicationError as error:
                add_application_error(pool_form, error)
            else:
                messages.success(request, _("Coupon pool created. Add its codes below."))
                return redirect("recall:policies", community.slug)
    pools = (
        CouponPool.objects.filter(community=community)
        .annotate(total=Count("coupons"), free=Count("coupons", filter=Q(coupons__handed_out_at__isnull=True)))
        .order_by("name")
    )
    pool_rows = [{"pool": pool, "free": pool.free, "total": pool.total} for pool in pools]
    return render(
        request,
        "recall/policies.html",
        {
            "community": community,
            "policies": selectors.policies(community),
            "pools": pool_rows,
            "policy_form": policy_form,
            "pool_form": pool_form,
            "editable": editable,
        },
    )


@require_http_methods(["GET", "POST"])
@community_page
def policy_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _visible_or_404(request, community)
    policy = get_object_or_404(RecallPolicy, community=community, pk=pk)
    editable = _runs_recall(request, community)
    pools = CouponPool.objects.filter(community=community)
    initial = {
        name: getattr(policy, name)
        for name in ("name", "is_active", "quiet_start", "quiet_end", "monthly_cap", "recovery_days", "point_value")
    }
    form = PolicyForm(request.POST if request.POST.get("form") == "policy" else None, initial=initial, prefix="policy")
    stage_form = StageForm(
        request.POST if request.POST.get("form") == "stage" else None, pools=pools, prefix="stage",
        initial={"channel": Channel.PLATFORM, "wait_days": 7},
    )  # fmt: skip
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if request.POST.get("form") == "policy" and form.is_valid():
            try:
                policies.policy_save(community=community, policy=policy, **form.cleaned_data)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Policy saved."))
                return redirect("recall:policy", community.slug, policy.pk)
        if request.POST.get("form") == "stage" and stage_form.is_valid():
            try:
                policies.stage_save(policy=policy, **_stage_values(stage_form))
            except ApplicationError as error:
                add_application_error(stage_form, error)
            else:
                messages.success(request, _("Stage added."))
                return redirect("recall:policy", community.slug, policy.pk)
    return render(
        request,
        "recall/policy.html",
        {
            "community": community,
            "policy": policy,
            "stages": policy.stages.select_related("coupon_pool").order_by("position"),
            "form": form,
            "stage_form": stage_form,
            "editable": editable,
        },
    )


def _stage_values(form: StageForm) -> dict:
    values = dict(form.cleaned_data)
    values["gift_kind"] = values.get("gift_kind") or ""
    values["gift_points"] = values.get("gift_points") or 0
    return values


@require_http_methods(["GET", "POST"])
@community_page
def stage_edit(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _require_recall(request, community)
    stage = get_object_or_404(RecallStage.objects.select_related("policy"), policy__community=community, pk=pk)
    pools = CouponPool.objects.filter(community=community)
    if request.method == "POST" and request.POST.get("delete"):
        try:
            policies.stage_delete(stage=stage)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("recall:stage", community.slug, stage.pk)
        messages.success(request, _("Stage deleted."))
        return redirect("recall:policy", community.slug, stage.policy_id)
    initial = {
        name: getattr(stage, name)
        for name in (
            "name", "days_silent", "channel", "template", "template_b", "segments", "risk_bands", "include_digest",
            "gift_kind", "gift_points", "coupon_pool", "privilege", "wait_days",
        )
    }  # fmt: skip
    form = StageForm(request.POST or None, pools=pools, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            policies.stage_save(policy=stage.policy, stage=stage, **_stage_values(form))
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Stage saved."))
            return redirect("recall:policy", community.slug, stage.policy_id)
    return render(request, "recall/stage.html", {"community": community, "stage": stage, "form": form})


@require_http_methods(["GET", "POST"])
@community_page
def pool_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _require_recall(request, community)
    pool = get_object_or_404(CouponPool, community=community, pk=pk)
    form = CodesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added, repeated = policies.coupons_add(pool=pool, text=form.cleaned_data["codes"])
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request,
                _("%(added)s codes added; %(repeated)s were already there.") % {"added": added, "repeated": repeated},
            )
            return redirect("recall:pool", community.slug, pool.pk)
    coupons = Paginator(pool.coupons.select_related("attempt__member").order_by("-handed_out_at", "pk"), 100)
    return render(
        request,
        "recall/pool.html",
        {
            "community": community,
            "pool": pool,
            "form": form,
            "page": coupons.get_page(request.GET.get("page")),
            "free": pool.coupons.filter(handed_out_at__isnull=True).count(),
        },
    )


# --- Calls ------------------------------------------------------------------------------------


@require_GET
@community_page
def calls(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    tasks = list(selectors.call_list(request.user, community)[:200])
    personal = can_see_personal_data(request.user, community)
    for task in tasks:
        task.phone_shown = task.member.phone if personal else mask_phone(task.member.phone)
        task.form = CallForm(prefix=f"call{task.pk}")
    return render(
        request,
        "recall/calls.html",
        {
            "community": community,
            "tasks": tasks,
            "done": selectors.calls_done(request.user, community)[:50],
            "personal": personal,
        },
    )


@require_POST
@community_page
def call_record(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    task = get_object_or_404(selectors.call_list(request.user, community), pk=pk)
    form = CallForm(request.POST, prefix=f"call{task.pk}")
    if form.is_valid():
        try:
            outcomes.call_record(
                attempt=task, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"], by=request.user
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            if form.cleaned_data["opt_out"]:
                policies.opt_out(member=task.member, source=OptOutSource.ADMIN)
            if request.htmx:
                task.refresh_from_db()
                return render(request, "recall/_call_done.html", {"community": community, "task": task})
            messages.success(request, _("Call recorded."))
            return redirect("recall:calls", community.slug)
    personal = can_see_personal_data(request.user, community)
    task.phone_shown = task.member.phone if personal else mask_phone(task.member.phone)
    task.form = form
    template = "recall/_call_row.html" if request.htmx else "recall/calls.html"
    context = {"community": community, "task": task, "tasks": [task], "done": [], "personal": personal}
    return render(request, template, context, status=400)


# --- Attempts and exits -------------------------------------------------------------------------


@require_GET
@community_page
def attempts(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    rows = selectors.attempts_for(request.user, community).select_related("member", "stage", "group")
    status, channel = request.GET.get("status", ""), request.GET.get("channel", "")
    if status in AttemptStatus.values:
        rows = rows.filter(status=status)
    if channel in Channel.values:
        rows = rows.filter(channel=channel)
    rows = rows.order_by("-scheduled_at", "-pk")
    export = request.GET.get("export", "")
    if export:
        columns = [
            ("planned", _("Planned")), ("member", _("Member")), ("group", _("Group")), ("stage", _("Stage")),
            ("channel", _("Channel")), ("variant", _("Variant")), ("status", _("Status")),
        ]  # fmt: skip
        columns += [(step, selectors.step_label(step)) for step in selectors.STEPS]
        columns += [("gift_value", _("Gift value"))]
        data = [
            {
                "planned": row.scheduled_at,
                "member": row.member.display_name,
                "group": row.group.name if row.group else "",
                "stage": row.stage.name,
                "channel": row.get_channel_display(),
                "variant": row.variant.upper(),
                "status": row.get_status_display(),
                **{step: getattr(row, f"{step}_at") for step in selectors.STEPS},
                "gift_value": row.gift_value,
            }
            for row in rows[:50_000]
        ]
        return table_response(fmt=export, filename=f"{community.slug}-recall-attempts", columns=columns, rows=data)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "recall/attempts.html",
        {
            "community": community,
            "page": page,
            "status": status,
            "channel": channel,
            "statuses": AttemptStatus.choices,
            "channels": Channel.choices,
        },
    )


@require_GET
@community_page
def exits(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    surveys = selectors.exit_surveys(request.user, community)
    report = selectors.exit_report(surveys)
    export = request.GET.get("export", "")
    if export:
        columns = [("left", _("Left")), ("member", _("Member")), ("group", _("Group")), ("answered", _("Answered"))]
        columns += [(reason.value, reason.label) for reason in ExitReason]
        columns += [("text", _("In their words"))]
        data = [
            {
                "left": survey.left_at,
                "member": survey.member.display_name,
                "group": survey.group.name,
                "answered": survey.answered_at,
                **{reason.value: int(reason.value in (survey.reasons or [])) for reason in ExitReason},
                "text": survey.other_text,
            }
            for survey in surveys.order_by("-left_at")[:50_000]
        ]
        return table_response(fmt=export, filename=f"{community.slug}-exit-surveys", columns=columns, rows=data)
    answers = surveys.filter(answered_at__isnull=False).order_by("-answered_at")[:100]
    return render(request, "recall/exits.html", {"community": community, "report": report, "answers": answers})
