"""Survey and smart grouping pages: the dashboard (survey status, pivot tables, demand per
topic, suggestions to accept, the recommender's quality and per-member picks), the survey
editor, and the member's own survey page.

The figures are community-wide, so the dashboard needs a role on the hub (others who see a
group get 403, outsiders 404); editing the survey, accepting or dismissing suggestions and
retraining change the community's tree and need manage-tree on the hub."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import table_response, workbook_response
from core.errors import ApplicationError
from core.forms import add_application_error
from engagement.services.passes import member_for_pass, pass_holder
from grouping import selectors
from grouping.forms import AnswerForm, SurveyForm, ThresholdForm
from grouping.models import GroupSuggestion, ResponseSource, RunStatus, SuggestionStatus, SurveyResponse
from grouping.services import suggestions as suggesting
from grouping.services.surveys import response_submit, survey_for, survey_update
from subgroups.locale import member_page
from subgroups.models import Community
from subgroups.views import community_page


def _require_hub(request: HttpRequest, community: Community) -> None:
    if not selectors.hub_visible(request.user, community):
        raise PermissionDenied


def _require_manage(request: HttpRequest, community: Community) -> None:
    if not selectors.manages_tree(request.user, community):
        raise PermissionDenied


def _pivot_export(fmt: str, community: Community, tables: list[dict], clusters: list) -> HttpResponse:
    filename = f"{community.slug}-needs-survey"
    if fmt == "csv":
        rows = [
            {"table": table["question"], "topic": topic, "answer": column, "members": count}
            for table in tables
            for topic, counts in table["rows"]
            for column, count in zip(table["columns"], counts, strict=True)
        ]
        columns = [("table", _("Question")), ("topic", _("Topic")), ("answer", _("Answer")), ("members", _("Members"))]
        return table_response(fmt="csv", filename=filename, columns=columns, rows=rows)
    if fmt != "xlsx":
        raise Http404
    sheets = [
        (table["key"], [_("Topic"), *table["columns"]], [[topic, *counts] for topic, counts in table["rows"]])
        for table in tables
    ]
    headings = [
        _("Topic"), _("Asked"), _("Not yet in a group"), _("Willing admins"), _("Free seats"), _("Size"), _("Frequency")
    ]  # fmt: skip
    names = ("label", "asked", "interested", "willing_admins", "free_seats", "preferred_size", "preferred_frequency")
    sheets.append(("topics", headings, [[getattr(cluster, name) for name in names] for cluster in clusters]))
    return workbook_response(filename=filename, sheets=sheets)


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    survey = survey_for(community=community)
    tables = selectors.pivots(survey)
    clusters = selectors.demand_clusters(survey)
    export = request.GET.get("export", "")
    if export:
        return _pivot_export(export, community, tables, clusters)
    pending = list(selectors.suggestions(community, status=SuggestionStatus.PENDING))
    decided = list(
        selectors.suggestions(community).exclude(status=SuggestionStatus.PENDING).order_by("-decided_at", "-pk")[:10]
    )
    for suggestion in [*pending, *decided]:
        suggestion.admins = selectors.willing_admins(suggestion)
    run = selectors.latest_run(community)
    in_use = run if run is not None and run.status == RunStatus.OK else selectors.latest_run(community, ok=True)
    search = request.GET.get("q", "").strip()[:100]
    rows = selectors.recommendation_rows(
        in_use, members=selectors.visible_members(request.user, community), search=search
    )
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    picks = selectors.recommendations_for(in_use, [row.member_id for row in page])
    for row in page:
        row.picks = picks.get(row.member_id, [])
    context = {
        "community": community,
        "survey": survey,
        "stats": selectors.survey_stats(survey),
        "tables": tables,
        "clusters": clusters,
        "chart": selectors.demand_chart(clusters, asked_label=_("Members asking"), admins_label=_("Willing admins")),
        "pending": pending,
        "decided": decided,
        "run": run,
        "in_use": in_use,
        "page": page,
        "search": search,
        "manages": selectors.manages_tree(request.user, community),
        "threshold_form": ThresholdForm(initial={"min_members": survey.min_members}),
    }
    return render(request, "grouping/overview.html", context)


@require_http_methods(["GET", "POST"])
@community_page
def survey_edit(request: HttpRequest, community: Community) -> HttpResponse:
    _require_hub(request, community)
    survey = survey_for(community=community)
    questions = list(survey.questions.all())
    form = SurveyForm(request.POST or None, survey=survey, questions=questions)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        _require_manage(request, community)
        if form.is_valid():
            try:
                survey_update(
                    survey=survey,
                    title=form.cleaned_data["title"],
                    intro=form.cleaned_data["intro"],
                    is_open=form.cleaned_data["is_open"],
                    questions=form.changes(),
                )
            except ApplicationError as error:
                errors = error.extra.get("fields") or {}
                if not set(errors) & {question.key for question in questions}:
                    add_application_error(form, error)
            else:
                messages.success(request, _("Survey saved."))
                return redirect("grouping:survey_edit", community.slug)
        status = 400
    rows = form.rows()
    for row in rows:
        row["errors"] = errors.get(row["question"].key, [])
    return render(
        request,
        "grouping/survey_edit.html",
        {
            "community": community,
            "survey": survey,
            "form": form,
            "rows": rows,
            "manages": selectors.manages_tree(request.user, community),
            "answers": SurveyResponse.objects.filter(survey=survey).count(),
        },
        status=status,
    )


@require_POST
@community_page
def thresholds(request: HttpRequest, community: Community) -> HttpResponse:
    _require_manage(request, community)
    form = ThresholdForm(request.POST)
    if form.is_valid():
        survey_update(survey=survey_for(community=community), min_members=form.cleaned_data["min_members"])
        result = suggesting.suggestions_refresh(community=community)
        messages.success(
            request,
            _("Threshold saved. %(created)d new suggestions, %(withdrawn)d withdrawn.")
            % {"created": result["created"], "withdrawn": result["withdrawn"]},
        )
    else:
        messages.error(request, _("The threshold must be a whole number from 1 to 100,000."))
    return redirect(reverse("grouping:overview", args=[community.slug]) + "#topics")


@require_POST
@community_page
def refresh(request: HttpRequest, community: Community) -> HttpResponse:
    _require_manage(request, community)
    result = suggesting.suggestions_refresh(community=community)
    messages.success(
        request,
        _("Suggestions refreshed: %(created)d new, %(updated)d updated, %(withdrawn)d withdrawn.")
        % {"created": result["created"], "updated": result["updated"], "withdrawn": result["withdrawn"]},
    )
    return redirect(reverse("grouping:overview", args=[community.slug]) + "#suggestions")


@require_POST
@community_page
def accept(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _require_manage(request, community)
    suggestion = get_object_or_404(GroupSuggestion, community=community, pk=pk)
    try:
        suggestion, created = suggesting.suggestion_accept(suggestion=suggestion, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if created:
            messages.success(
                request,
                _("Created “%(group)s” with %(count)d invitations on their way. Make the willing admins its guides "
                  "once they join.") % {"group": suggestion.group.name, "count": suggestion.invited_count},
            )  # fmt: skip
        else:
            messages.info(
                request, _("Already accepted: “%(group)s” exists.") % {"group": getattr(suggestion.group, "name", "")}
            )
    return redirect(reverse("grouping:overview", args=[community.slug]) + "#suggestions")


@require_POST
@community_page
def dismiss(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    _require_manage(request, community)
    suggestion = get_object_or_404(GroupSuggestion, community=community, pk=pk)
    try:
        suggesting.suggestion_dismiss(suggestion=suggestion, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Dismissed: “%(topic)s” is not suggested again.") % {"topic": suggestion.attribute})
    return redirect(reverse("grouping:overview", args=[community.slug]) + "#suggestions")


@require_POST
@community_page
def retrain(request: HttpRequest, community: Community) -> HttpResponse:
    _require_manage(request, community)
    from grouping.tasks import grouping_refresh

    transaction.on_commit(lambda: grouping_refresh.delay(community.pk), robust=True)
    messages.success(request, _("Retraining the recommendations; reload in a moment to see the new figures."))
    return redirect(reverse("grouping:overview", args=[community.slug]) + "#quality")


# --- The member's page --------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(pass_holder)
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    """The member's needs survey, reached by their private link. Answering again updates."""
    member = member_for_pass(token)
    community = member.community
    survey = survey_for(community=community)
    questions = list(survey.questions.all())
    response = SurveyResponse.objects.filter(survey=survey, member=member).first()
    form = AnswerForm(request.POST or None, questions=questions, initial=response.answers if response else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                response_submit(survey=survey, member=member, answers=form.answers(), source=ResponseSource.PAGE)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                return redirect(reverse("grouping:survey", args=[token]) + "?saved=1")
        status = 400
    return render(
        request,
        "grouping/public/survey.html",
        {
            "member": member,
            "community": community,
            "survey": survey,
            "form": form,
            "answered": response is not None,
            "saved": request.GET.get("saved") == "1" and response is not None,
        },
        status=status,
    )
