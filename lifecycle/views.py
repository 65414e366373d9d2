"""Lifecycle pages: the stage flow with its rules and the next run's preview, one rule's page, the
history of moves, and members' dates. Anyone who may see a group of the community sees them,
scoped to what they may see; rules and runs need manage-tree on the hub, and dates need
manage-members on a group the member is in. Outsiders get a 404."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import table_response
from analytics.services.metrics import local_today
from core.errors import ApplicationError
from core.forms import add_application_error
from lifecycle import selectors
from lifecycle.forms import DatesImportForm, MemberDateForm, RuleForm
from lifecycle.models import DATE_TRIGGERS, LifecycleRule, MemberDate, MoveStatus
from lifecycle.services import dates as member_dates
from lifecycle.services import rules as rule_services
from lifecycle.services.engine import lifecycle_run, rule_due, rule_preview, rule_upcoming
from members.models import Member, PlatformHandle
from subgroups.models import Community, Group
from subgroups.views import community_page

PREVIEW_ROWS = 100
_RULE_FIELDS = (
    "name", "from_group", "to_group", "trigger", "anchor_date", "date_label", "offset_days", "threshold",
    "keep_previous", "notice_template", "is_active",
)  # fmt: skip


def _visible_or_404(request: HttpRequest, community: Community) -> QuerySet[Group]:
    groups = selectors.visible_groups(request.user, community)
    if not groups.exists():
        raise Http404
    return groups


def _require_rules(request: HttpRequest, community: Community) -> None:
    if not selectors.manages_rules(request.user, community):
        raise PermissionDenied


def _rule_values(form: RuleForm) -> dict:
    return {name: form.cleaned_data.get(name) for name in _RULE_FIELDS}


def _preview_rows(rows: list[dict], visible: set[int], community: Community) -> list[dict]:
    """The dry run's rows the user may see, with their rule and groups named."""
    rules = {rule.pk: rule for rule in LifecycleRule.objects.filter(community=community)}
    groups = {group.pk: group for group in Group.objects.filter(community=community)}
    shown = []
    for row in rows:
        if row["from_group_id"] not in visible and row["to_group_id"] not in visible:
            continue
        shown.append(
            {**row, "rule": rules.get(row["rule_id"]), "from_group": groups.get(row["from_group_id"]),
             "to_group": groups.get(row["to_group_id"])}
        )  # fmt: skip
    return shown


@require_http_methods(["GET", "POST"])
@community_page
def rules(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _visible_or_404(request, community)
    editable = selectors.manages_rules(request.user, community)
    form = RuleForm(request.POST if request.method == "POST" else None, community=community, prefix="rule")
    status = 200
    if request.method == "POST":
        _require_rules(request, community)
        if form.is_valid():
            try:
                rule = rule_services.rule_save(community=community, by=request.user, **_rule_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
                return redirect("lifecycle:rule", community.slug, rule.pk)
        status = 400
    now = timezone.now()
    rule_rows = list(selectors.rules_for(community))
    for rule in rule_rows:
        rule.due_now = rule_due(rule, now=now).count() if rule.is_active else 0
        rule.due_soon = rule_upcoming(rule, today=local_today(community, now), days=30).count() if rule.is_active else 0
    visible = set(groups.values_list("pk", flat=True))
    dry = lifecycle_run(community=community, now=now, dry_run=True)
    preview = _preview_rows(dry.get("preview", []), visible, community)
    context = {
        "community": community,
        "flow": selectors.stage_flow(community, groups),
        "rules": rule_rows,
        "form": form,
        "editable": editable,
        "preview": preview[:PREVIEW_ROWS],
        "preview_total": len(preview),
        "preview_failing": sum(1 for row in preview if not row["fits"]),
        "next_run": selectors.next_run_at(now),
        "recent": selectors.moves_for(request.user, community)[:10],
    }
    return render(request, "lifecycle/rules.html", context, status=status)


@require_http_methods(["GET", "POST"])
@community_page
def rule_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    groups = _visible_or_404(request, community)
    rule = get_object_or_404(
        LifecycleRule.objects.select_related("community", "from_group", "to_group"), community=community, pk=pk
    )
    editable = selectors.manages_rules(request.user, community)
    initial = {name: getattr(rule, name) for name in _RULE_FIELDS}
    posted = request.POST if request.method == "POST" and request.POST.get("form") == "rule" else None
    form = RuleForm(posted, community=community, initial=initial, prefix="rule")
    status = 200
    if request.method == "POST":
        _require_rules(request, community)
        action = request.POST.get("action", "")
        if action in ("pause", "resume"):
            try:
                rule_services.rule_set_active(rule=rule, is_active=action == "resume")
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Rule resumed.") if action == "resume" else _("Rule paused."))
            return redirect("lifecycle:rule", community.slug, rule.pk)
        if action == "delete":
            try:
                rule_services.rule_delete(rule=rule)
            except ApplicationError as error:
                messages.error(request, error.message)
                return redirect("lifecycle:rule", community.slug, rule.pk)
            messages.success(request, _("Rule deleted."))
            return redirect("lifecycle:rules", community.slug)
        if form.is_valid():
            try:
                rule_services.rule_save(community=community, rule=rule, **_rule_values(form))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Rule saved."))
                return redirect("lifecycle:rule", community.slug, rule.pk)
        status = 400
        rule.refresh_from_db()
    visible = set(groups.values_list("pk", flat=True))
    preview = rule_preview(rule, limit=PREVIEW_ROWS)
    shown = rule.from_group_id in visible
    return render(
        request,
        "lifecycle/rule.html",
        {
            "community": community,
            "rule": rule,
            "form": form,
            "editable": editable,
            "preview": preview,
            "shown": shown,
            "dated": rule.trigger in DATE_TRIGGERS,
            "next_run": selectors.next_run_at(),
            "has_moves": rule.moves.exists(),
            "moves": selectors.moves_for(request.user, community).filter(rule=rule)[:20],
        },
        status=status,
    )


@require_POST
@community_page
def run_now(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    _require_rules(request, community)
    from lifecycle.tasks import lifecycle_community

    transaction.on_commit(lambda: lifecycle_community.delay(community.pk), robust=True)
    messages.success(request, _("The lifecycle rules are running; reload in a moment to see who moved."))
    return redirect("lifecycle:rules", community.slug)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_GET
@community_page
def history(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _visible_or_404(request, community)
    rows = selectors.moves_for(request.user, community)
    rule_id, status, group_id = request.GET.get("rule", ""), request.GET.get("status", ""), request.GET.get("group", "")
    query = request.GET.get("q", "").strip()[:100]
    since, until = _day(request.GET.get("since", "")), _day(request.GET.get("until", ""))
    if rule_id.isdigit() and len(rule_id) < 19:
        rows = rows.filter(rule_id=int(rule_id))
    if status in MoveStatus.values:
        rows = rows.filter(status=status)
    if group_id.isdigit() and len(group_id) < 19:
        rows = rows.filter(Q(from_group_id=int(group_id)) | Q(to_group_id=int(group_id)))
    if query:
        rows = rows.filter(member__display_name__icontains=query)
    if since:
        rows = rows.filter(at__date__gte=since)
    if until:
        rows = rows.filter(at__date__lte=until)
    export = request.GET.get("export", "")
    if export:
        columns = [
            ("at", _("When")), ("member", _("Member")), ("from_group", _("From")), ("to_group", _("To")),
            ("rule", _("Rule")), ("status", _("Status")), ("reason", _("Reason")), ("attempts", _("Attempts")),
            ("joined", _("Joined the previous group")), ("left", _("Left it")),
        ]  # fmt: skip
        data = [
            {
                "at": move.at,
                "member": move.member.display_name,
                "from_group": move.from_group.name,
                "to_group": move.to_group.name,
                "rule": move.rule.name,
                "status": move.get_status_display(),
                "reason": move.reason,
                "attempts": move.attempts,
                "joined": move.from_membership.joined_at,
                "left": move.from_membership.left_at,
            }
            for move in rows[:50_000]
        ]
        return table_response(fmt=export, filename=f"{community.slug}-lifecycle-moves", columns=columns, rows=data)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    filters = {
        "rule": rule_id, "status": status, "group": group_id, "q": query,
        "since": since.isoformat() if since else "", "until": until.isoformat() if until else "",
    }  # fmt: skip
    return render(
        request,
        "lifecycle/history.html",
        {
            "community": community,
            "page": page,
            "filters": filters,
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "rules": LifecycleRule.objects.filter(community=community).order_by("name"),
            "groups": groups.order_by("tree_id", "lft"),
            "statuses": MoveStatus.choices,
        },
    )


def _member_from(text: str, members: QuerySet[Member], community: Community) -> Member:
    """A member the user may manage, from their id, platform:account, or exact name."""
    text = text.strip()
    if text.isdigit() and len(text) < 19:
        found = members.filter(pk=int(text)).first()
    elif ":" in text:
        platform, _sep, account = text.partition(":")
        handle = PlatformHandle.objects.filter(
            community=community, platform=platform.strip().lower(), external_id=account.strip(), member__in=members
        ).first()
        found = handle.member if handle else None
    else:
        named = list(members.filter(display_name=text)[:2])
        if len(named) > 1:
            raise ApplicationError(_("Several members have this name: give their id."), field="member")
        found = named[0] if named else None
    if found is None:
        raise ApplicationError(_("No such member among those you manage."), field="member")
    return found


@require_http_methods(["GET", "POST"])
@community_page
def dates(request: HttpRequest, community: Community) -> HttpResponse:
    _visible_or_404(request, community)
    editable = selectors.manages_members(request.user, community)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = MemberDateForm(request.POST if action == "set" else None, prefix="date")
    import_form = DatesImportForm(request.POST if action == "import" else None, request.FILES or None, prefix="import")
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        manageable = selectors.manageable_members(request.user, community)
        if action == "remove":
            raw = request.POST.get("id", "")
            row = MemberDate.objects.filter(
                community=community, pk=int(raw) if raw.isdigit() and len(raw) < 19 else 0, member__in=manageable
            ).first()
            if row is None:
                raise Http404
            member_dates.member_date_remove(member_date=row)
            messages.success(request, _("Date removed."))
            return redirect("lifecycle:dates", community.slug)
        if action == "set" and form.is_valid():
            try:
                member = _member_from(form.cleaned_data["member"], manageable, community)
                member_dates.member_date_set(
                    member=member, label=form.cleaned_data["label"], date=form.cleaned_data["date"]
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Date saved for %(name)s.") % {"name": member.display_name})
                return redirect("lifecycle:dates", community.slug)
        if action == "import" and import_form.is_valid():
            try:
                text = import_form.cleaned_data["file"].read(member_dates.MAX_IMPORT_BYTES + 1).decode("utf-8-sig")
            except UnicodeDecodeError:
                import_form.add_error("file", _("Save the file as UTF-8 text."))
            else:
                try:
                    report = member_dates.member_dates_import(
                        community=community,
                        text=text,
                        members=manageable,
                        default_label=import_form.cleaned_data["label"],
                    )
                except ApplicationError as error:
                    add_application_error(import_form, error)
                else:
                    messages.success(
                        request,
                        _("Imported: %(added)d new, %(updated)d updated.")
                        % {"added": report.added, "updated": report.updated},
                    )
                    for error in report.errors[:20]:
                        messages.warning(request, error)
                    if len(report.errors) > 20:
                        messages.warning(
                            request, _("…and %(count)d more lines with errors.") % {"count": len(report.errors) - 20}
                        )
                    return redirect("lifecycle:dates", community.slug)
        if action not in ("set", "import"):
            raise Http404
        status = 400
    rows = selectors.dates_for(request.user, community)
    label = request.GET.get("label", "").strip()[:32]
    if label:
        rows = rows.filter(label=label.lower())
    query = request.GET.get("q", "").strip()[:100]
    if query:
        rows = rows.filter(member__display_name__icontains=query)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    manageable_ids = (
        set(
            selectors.manageable_members(request.user, community)
            .filter(pk__in=[row.member_id for row in page])
            .values_list("pk", flat=True)
        )
        if editable
        else set()
    )
    for row in page:
        row.removable = row.member_id in manageable_ids
    return render(
        request,
        "lifecycle/dates.html",
        {
            "community": community,
            "page": page,
            "form": form,
            "import_form": import_form,
            "editable": editable,
            "label": label,
            "q": query,
            "labels": MemberDate.objects.filter(community=community)
            .order_by("label")
            .values_list("label", flat=True)
            .distinct(),
        },
        status=status,
    )
