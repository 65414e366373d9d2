"""Dashboard pages for imports: upload a chat log or member list (CSV or XLSX), check the column
mapping against a dry run, start it and watch it go. An import belongs to those who manage the
members of its group; everyone else gets a 404, as if it did not exist."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from analytics.models import ImportJob, ImportKind, ImportStatus
from analytics.services import imports
from core.errors import ApplicationError
from core.forms import add_application_error
from members.permissions import can, can_see_personal_data, groups_where
from subgroups.access import Capability
from subgroups.forms import GroupChoiceField
from subgroups.models import Community, Group, GroupStatus
from subgroups.views import community_page

# Field names that ingestion itself may report, beside the import's own targets.
_INGEST_LABELS = {
    "group": gettext_lazy("Group"),
    "non_field_errors": gettext_lazy("Row"),
}
_SHOWN_ERRORS = 100
_PERSONAL = frozenset({"phone", "email"})


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"), choices=ImportKind.choices)
    group = GroupChoiceField(
        label=gettext_lazy("Group"),
        queryset=Group.objects.none(),
        help_text=gettext_lazy("A chat log: the group of rows that name none. A member list: the group they join."),
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (UTF-8 or GBK) or Excel .xlsx, first sheet; a header row; at most 20 MB."),
    )

    def __init__(self, *args: Any, groups: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.exclude(status=GroupStatus.ARCHIVED).order_by("tree_id", "lft")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB.") % {"size": imports.MAX_BYTES // (1024 * 1024)}
            )
        return upload


class MappingForm(forms.Form):
    """One choice of column per field the import can fill."""

    def __init__(self, *args: Any, targets: list[imports.Target], columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *((column, column) for column in columns)]
        for target in targets:
            self.fields[target.name] = forms.ChoiceField(
                label=format_lazy("{} *", target.label) if target.required else target.label,
                choices=choices,
                required=target.required,
                help_text=target.help,
            )

    def mapping(self) -> dict[str, str]:
        return {name: column for name, column in self.cleaned_data.items() if column}


def _manageable(request: HttpRequest, community: Community) -> QuerySet[Group]:
    return groups_where(request.user, Capability.MANAGE_MEMBERS).filter(community=community)


def _job_for(request: HttpRequest, community: Community, pk: int) -> ImportJob:
    # The file stays in the database until a page needs its rows: progress polls never load it.
    job = (
        ImportJob.objects.select_related("group", "community", "created_by")
        .defer("content")
        .filter(community=community, pk=pk)
        .first()
    )
    if job is None or not can(request.user, Capability.MANAGE_MEMBERS, job.group):
        raise Http404
    return job


def _hide_personal_data(request: HttpRequest, community: Community, job: ImportJob, preview: dict) -> None:
    """Phone numbers and e-mail addresses are for the community's owners (and whoever uploaded
    the file): a fellow admin of the group sees that a cell is filled, not what it says."""
    if job.created_by_id == request.user.pk or can_see_personal_data(request.user, community):
        return
    hidden = [index for index, target in enumerate(preview["targets"]) if target.name in _PERSONAL]
    for row in preview["rows"]:
        for index in hidden:
            cell = row["cells"][index]
            cell["value"] = "•••" if cell["value"] else ""


def _progress_context(community: Community, job: ImportJob) -> dict[str, Any]:
    labels = {**_INGEST_LABELS, **{target.name: target.label for target in imports.FIELDS.get(job.kind, [])}}
    errors = [
        {
            "row": error.get("row"),
            "fields": [(labels.get(name, name), message) for name, message in (error.get("fields") or {}).items()],
        }
        for error in (job.errors or [])[:_SHOWN_ERRORS]
    ]
    return {
        "community": community,
        "job": job,
        "errors": errors,
        "more_errors": max(0, job.rejected - len(errors)),
        "polling": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
    }


@require_http_methods(["GET", "POST"])
@community_page
def import_list(request: HttpRequest, community: Community) -> HttpResponse:
    groups = _manageable(request, community)
    if not groups.exists():
        raise Http404
    form = UploadForm(groups=groups)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, groups=groups)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = imports.import_upload(
                    community=community,
                    group=form.cleaned_data["group"],
                    kind=form.cleaned_data["kind"],
                    filename=upload.name,
                    content=upload.read(),
                    by=request.user,
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                return redirect(reverse("analytics:import_detail", args=[community.slug, job.pk]))
    jobs = (
        ImportJob.objects.filter(community=community, group__in=groups)
        .select_related("group", "created_by")
        .defer("content")[:50]
    )
    return render(request, "analytics/imports.html", {"community": community, "form": form, "jobs": jobs})


@require_http_methods(["GET", "POST"])
@community_page
def import_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    job = _job_for(request, community, pk)
    here = reverse("analytics:import_detail", args=[community.slug, job.pk])
    context: dict[str, Any] = {"community": community, "job": job, **_progress_context(community, job)}
    if job.status != ImportStatus.PREVIEW:
        if request.method == "POST":
            return redirect(here)  # a second click on "Start": it is under way already
        return render(request, "analytics/import_detail.html", context)
    targets = imports.FIELDS[job.kind]
    try:
        columns = imports.import_columns(job)
    except ApplicationError as error:
        return render(request, "analytics/import_detail.html", {**context, "problem": error.message})
    mapping: dict[str, str] | None = job.mapping
    if request.method == "POST":
        form = MappingForm(request.POST, prefix="map", targets=targets, columns=columns)
        mapping = form.mapping() if form.is_valid() else None
        if mapping is not None and request.POST.get("action") == "start":
            try:
                imports.import_start(job=job, mapping=mapping, by=request.user)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                return redirect(here)
    else:
        form = MappingForm(prefix="map", initial=job.mapping, targets=targets, columns=columns)
    preview = problem = None
    if mapping is not None:
        try:
            preview = imports.import_preview(job=job, mapping=mapping)
            _hide_personal_data(request, community, job, preview)
        except ApplicationError as error:
            problem = error.message
    return render(
        request,
        "analytics/import_detail.html",
        {**context, "form": form, "columns": columns, "preview": preview, "problem": problem},
    )


@require_GET
@community_page
def import_progress(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    job = _job_for(request, community, pk)
    return render(request, "analytics/_import_progress.html", _progress_context(community, job))


urlpatterns_imports = [
    path("imports/", import_list, name="imports"),
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", import_progress, name="import_progress"),
]
