"""Dashboard pages for the community and its tree.

Each view resolves the community through the scoped selectors (404 for outsiders), checks
the capability for writes (403), hands the form's values to one service and shows a
service's refusal next to the field it concerns.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from core.forms import add_application_error
from subgroups import selectors, services
from subgroups.access import Capability, policy
from subgroups.forms import (
    CommunityCreateForm,
    CommunitySettingsForm,
    GroupCreateForm,
    GroupEditForm,
    MoveForm,
)
from subgroups.models import Community, Group, GroupKind

LAST_COMMUNITY = "canopy_last_community"


def community_page(view: Callable) -> Callable:
    """Log-in required; resolves ``slug`` to a community the user may see (else 404)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
        community = selectors.community_for_user(request.user, slug=slug)
        request.community = community
        if request.session.get(LAST_COMMUNITY) != community.slug:
            request.session[LAST_COMMUNITY] = community.slug
        # Times on the community's pages read in the community's own time zone.
        with timezone.override(zoneinfo.ZoneInfo(community.time_zone)):
            return view(request, community, *args, **kwargs)

    return wrapper


def _require_manage(request: HttpRequest, group: Group) -> None:
    if not selectors.user_can(request.user, Capability.MANAGE_TREE, group):
        raise PermissionDenied


def _back_to(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else fallback


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    communities = selectors.communities_for_user(request.user)
    last = request.session.get(LAST_COMMUNITY)
    community = communities.filter(slug=last).first() if last else None
    community = community or communities.first()
    if community is None:
        return render(
            request,
            "subgroups/no_community.html",
            {"can_create": policy().can_create_community(request.user)},
        )
    return redirect("subgroups:overview", slug=community.slug)


@login_required
@require_http_methods(["GET", "POST"])
def community_create(request: HttpRequest) -> HttpResponse:
    if not policy().can_create_community(request.user):
        raise PermissionDenied
    form = CommunityCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            community = services.community_create(
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"] or None,
                platform=form.cleaned_data["platform"],
                capacity=form.cleaned_data["capacity"],
                time_zone=form.cleaned_data["time_zone"],
                language=form.cleaned_data["language"],
                creator=request.user,
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Community “%(name)s” created.") % {"name": community.name})
            return redirect("subgroups:tree", slug=community.slug)
    return render(request, "subgroups/community_new.html", {"form": form})


@require_GET
@community_page
def overview(request: HttpRequest, community: Community) -> HttpResponse:
    visible = selectors.groups_for_user(request.user, community=community)
    stats = selectors.community_stats(visible)
    fullest = selectors.groups_by_fill(visible)
    chart = {
        "labels": [group.name for group in fullest],
        "members": [group.member_count for group in fullest],
        "room": [max(group.capacity - group.member_count, 0) for group in fullest],
    }
    kinds = {
        "labels": [str(GroupKind(kind).label) for kind in stats.by_kind],
        "counts": list(stats.by_kind.values()),
    }
    return render(
        request,
        "subgroups/overview.html",
        {
            "community": community,
            "hub_visible": visible.filter(pk=community.hub_id).exists(),
            "over_capacity": list(selectors.groups_over_capacity(visible)),
            "stats": stats,
            "fullest": fullest,
            "fill_chart": chart,
            "kind_chart": kinds,
        },
    )


def _tree_context(request: HttpRequest, community: Community, create_form: GroupCreateForm | None = None) -> dict:
    places = _places(request, community)
    return {
        "community": community,
        "nodes": selectors.visible_tree(request.user, community),
        "create_form": create_form or GroupCreateForm(places=places, initial={"parent": community.hub_id}),
        "can_manage": places.exists(),
    }


def _places(request: HttpRequest, community: Community):
    """Groups the user may grow or rearrange."""
    return selectors.groups_user_can(request.user, Capability.MANAGE_TREE, community=community)


@require_GET
@community_page
def tree(request: HttpRequest, community: Community) -> HttpResponse:
    return render(request, "subgroups/tree.html", _tree_context(request, community))


@require_POST
@community_page
def group_create(request: HttpRequest, community: Community) -> HttpResponse:
    form = GroupCreateForm(request.POST, places=_places(request, community))
    if form.is_valid():
        parent = form.cleaned_data["parent"]
        _require_manage(request, parent)
        try:
            group = services.group_create_child(
                parent=parent,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                platform=form.cleaned_data["platform"] or None,
                capacity=form.cleaned_data["capacity"],
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("“%(name)s” created.") % {"name": group.name})
            if request.htmx:
                return render(request, "subgroups/_tree_workspace.html", _tree_context(request, community))
            return redirect(_back_to(request, reverse("subgroups:tree", args=[community.slug])))
    template = "subgroups/_tree_workspace.html" if request.htmx else "subgroups/tree.html"
    return render(request, template, _tree_context(request, community, form), status=400)


@require_GET
@community_page
def propose_name(request: HttpRequest, community: Community) -> HttpResponse:
    """Fills the name box of the create form (htmx) with the convention's next name."""
    error, name = "", request.GET.get("name", "")
    try:
        name = services.group_propose_name(community=community, attribute=request.GET.get("attribute", ""))
    except ApplicationError as refusal:
        error = refusal.message
    return render(request, "subgroups/_name_input.html", {"value": name, "error": error})


def _group_page(request: HttpRequest, community: Community, group: Group, **forms) -> HttpResponse:
    can_manage = selectors.user_can(request.user, Capability.MANAGE_TREE, group)
    context = {
        "community": community,
        "group": group,
        "ancestors": group.get_ancestors(),
        "children": group.get_children(),
        "criteria": selectors.criteria_phrases(group),
        "join_link_stale": selectors.join_link_stale(group),
        "can_manage": can_manage,
        "edit_form": forms.get("edit_form") or GroupEditForm(group=group),
        "move_form": forms.get("move_form")
        or (MoveForm(group=group, places=_places(request, community)) if not group.is_hub else None),
        "child_form": forms.get("child_form")
        or GroupCreateForm(places=_places(request, community), initial={"parent": group.pk}),
    }
    status = 400 if forms else 200
    return render(request, "subgroups/group_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@community_page
def group_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, community=community, pk=pk)
    if request.method == "GET":
        return _group_page(request, community, group)
    _require_manage(request, group)
    form = GroupEditForm(request.POST, group=group)
    if form.is_valid():
        try:
            services.group_update(group=group, **form.service_values())
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("subgroups:group", slug=community.slug, pk=group.pk)
    return _group_page(request, community, group, edit_form=form)


@require_GET
@community_page
def group_panel(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    """The tree page's side panel for one group: rename, move, archive (htmx)."""
    group = selectors.group_for_user(request.user, community=community, pk=pk)
    return render(
        request,
        "subgroups/_group_panel.html",
        {
            "community": community,
            "group": group,
            "can_manage": selectors.user_can(request.user, Capability.MANAGE_TREE, group),
            "move_form": MoveForm(group=group, places=_places(request, community)) if not group.is_hub else None,
            "criteria": selectors.criteria_phrases(group),
        },
    )


@require_POST
@community_page
def group_rename(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, community=community, pk=pk)
    _require_manage(request, group)
    old_name = group.name
    try:
        group = services.group_rename(group=group, name=request.POST.get("name", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("“%(old)s” is now “%(name)s”.") % {"old": old_name, "name": group.name})
    return redirect(_back_to(request, reverse("subgroups:group", args=[community.slug, group.pk])))


@require_POST
@community_page
def group_move(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, community=community, pk=pk)
    _require_manage(request, group)
    form = MoveForm(request.POST, group=group, places=_places(request, community))
    if form.is_valid():
        _require_manage(request, form.cleaned_data["parent"])
        try:
            services.group_move(group=group, new_parent=form.cleaned_data["parent"])
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request,
                _("“%(name)s” now sits under “%(parent)s”.")
                % {"name": group.name, "parent": form.cleaned_data["parent"].name},
            )
            return redirect(_back_to(request, reverse("subgroups:group", args=[community.slug, group.pk])))
    return _group_page(request, community, group, move_form=form)


def _change_subtree(request: HttpRequest, community: Community, pk: int, change: Callable, done: str) -> HttpResponse:
    group = selectors.group_for_user(request.user, community=community, pk=pk)
    _require_manage(request, group)
    try:
        changed = change(group=group)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done % {"count": changed})
    return redirect(_back_to(request, reverse("subgroups:group", args=[community.slug, group.pk])))


@require_POST
@community_page
def group_archive(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    return _change_subtree(request, community, pk, services.group_archive, _("Archived %(count)d group(s)."))


@require_POST
@community_page
def group_restore(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    return _change_subtree(request, community, pk, services.group_restore, _("Restored %(count)d group(s)."))


@require_GET
@community_page
def mermaid_download(request: HttpRequest, community: Community) -> HttpResponse:
    response = HttpResponse(
        selectors.mermaid(list(selectors.visible_tree(request.user, community))),
        content_type="text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{community.slug}.mmd"'
    return response


@require_http_methods(["GET", "POST"])
@community_page
def community_settings(request: HttpRequest, community: Community) -> HttpResponse:
    can_manage = selectors.user_can_manage_tree(request.user, community)
    form = CommunitySettingsForm(request.POST or None, community=community)
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.community_update(community=community, **form.service_values())
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("subgroups:settings", slug=community.slug)
    status = 400 if form.errors else 200
    return render(
        request,
        "subgroups/settings.html",
        {"community": community, "form": form, "can_manage": can_manage},
        status=status,
    )


@login_required
@require_GET
def switch_community(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_user(request.user, slug=request.GET.get("to", ""))
    return redirect("subgroups:overview", slug=community.slug)
