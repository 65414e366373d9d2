"""Dashboard pages for people: the applications queue, members, roles, live codes, each
group's questionnaire and admin programme.

Every view resolves the community through the scoped selectors (404 for outsiders) and checks
the capability for writes (403); services do the writing.
"""

from __future__ import annotations

import csv
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from core.forms import add_application_error
from members import selectors, services
from members.forms import (
    AssessmentForm,
    LiveCodeForm,
    MemberFilterForm,
    MemberForm,
    MembershipForm,
    QuestionForm,
    QueueFilterForm,
    RejectForm,
    RuleForm,
)
from members.models import ApplicationStatus, KnockoutRule, Member, Membership, Question, Role
from members.permissions import (
    can,
    can_change_role,
    can_edit_member,
    can_edit_standing,
    can_end_membership,
    can_see_personal_data,
    grantable_roles,
    groups_where,
    roles_offered,
)
from members.privacy import shown_email, shown_phone
from members.services.funnel import public_url, welcome_text
from members.services.questionnaire import question_create, question_delete, rule_create, rule_delete
from subgroups import selectors as tree
from subgroups.access import Capability
from subgroups.models import Community, Group, GroupKind
from subgroups.views import _back_to, community_page


def _require(request: HttpRequest, capability: str, group: Group) -> None:
    if not can(request.user, capability, group):
        raise PermissionDenied


# --- Applications queue ---------------------------------------------------------------------


def _queue_context(request: HttpRequest, community: Community) -> dict:
    groups = selectors.reviewable_groups(request.user, community=community)
    data = request.GET.copy()
    data.setdefault("status", ApplicationStatus.PENDING)
    filters = QueueFilterForm(data, groups=groups)
    values = filters.cleaned_data if filters.is_valid() else {"status": ApplicationStatus.PENDING}
    applications = selectors.application_queue(
        request.user,
        community=community,
        group=values.get("group"),
        status=values.get("status", ""),
        age=values.get("age", ""),
    )
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    return {"community": community, "filters": filters, "page": page, "reject_form": RejectForm()}


@require_GET
@community_page
def queue(request: HttpRequest, community: Community) -> HttpResponse:
    return render(request, "members/queue.html", _queue_context(request, community))


def _application_context(request: HttpRequest, community: Community, application) -> dict:
    visible = can_see_personal_data(request.user, community)
    return {
        "community": community,
        "application": application,
        "answers": [
            (
                item.get("question", ""),
                "、".join(item["answer"]) if isinstance(item.get("answer"), list) else item.get("answer"),
            )
            for item in application.answers or []
        ],
        "phone": shown_phone(application.phone, visible=visible),
        "email": shown_email(application.email, visible=visible),
        "history": selectors.applicant_history(application, request.user),
        "reject_form": RejectForm(),
        "invitation": getattr(application, "invitation", None),
        "invitation_url": public_url(reverse("members:invitation", args=[application.invitation.token]))
        if hasattr(application, "invitation")
        else "",
    }


@require_GET
@community_page
def application_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    application = selectors.application_for_user(request.user, community=community, pk=pk)
    template = "members/_application_detail.html" if request.htmx else "members/application.html"
    return render(request, template, _application_context(request, community, application))


def _after_decision(request: HttpRequest, community: Community, application) -> HttpResponse:
    if request.htmx:
        application.refresh_from_db()
        return render(
            request, "members/_queue_row.html", {"community": community, "application": application, "decided": True}
        )
    return redirect(_back_to(request, reverse("members:queue", args=[community.slug])))


@require_POST
@community_page
def application_approve(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    application = selectors.application_for_user(request.user, community=community, pk=pk)
    _require(request, Capability.REVIEW_APPLICATIONS, application.group)
    try:
        services.application_approve(application=application, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Approved %(name)s; the invitation is ready.") % {"name": application.display_name})
    return _after_decision(request, community, application)


@require_POST
@community_page
def application_reject(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    application = selectors.application_for_user(request.user, community=community, pk=pk)
    _require(request, Capability.REVIEW_APPLICATIONS, application.group)
    form = RejectForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(_("Say why, so the applicant understands."), field="reason")
        services.application_reject(application=application, by=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
        if request.htmx:
            return render(
                request,
                "members/_queue_row.html",
                {"community": community, "application": application, "error": error.message},
                status=400,
            )
    else:
        messages.success(request, _("Rejected %(name)s.") % {"name": application.display_name})
    return _after_decision(request, community, application)


@require_POST
@community_page
def applications_bulk_approve(request: HttpRequest, community: Community) -> HttpResponse:
    ids = [int(value) for value in request.POST.getlist("ids") if re.fullmatch(r"[0-9]{1,18}", value)][:200]
    applications = selectors.application_queue(request.user, community=community).filter(pk__in=ids)
    approved, skipped = services.applications_bulk_approve(applications=list(applications), by=request.user)
    messages.success(request, _("Approved %(count)d application(s).") % {"count": approved})
    for reason in skipped:
        messages.warning(request, reason)
    if request.htmx:
        return render(request, "members/_queue_table.html", _queue_context(request, community))
    return redirect(_back_to(request, reverse("members:queue", args=[community.slug])))


# --- Members --------------------------------------------------------------------------------


def _member_rows(request: HttpRequest, community: Community, members) -> list[dict]:
    visible = can_see_personal_data(request.user, community)
    return [
        {
            "member": member,
            "phone": shown_phone(member.phone, visible=visible),
            "email": shown_email(member.email, visible=visible),
        }
        for member in members
    ]


def _filtered_members(request: HttpRequest, community: Community):
    groups = groups_where(request.user, Capability.VIEW).filter(community=community).order_by("tree_id", "lft")
    filters = MemberFilterForm(request.GET or None, groups=groups)
    values = filters.cleaned_data if filters.is_valid() else {}
    members = selectors.members_for_user(
        request.user,
        community=community,
        search=values.get("q", ""),
        group=values.get("group"),
        role=values.get("role", ""),
        tag=values.get("tag", ""),
        city=values.get("city", ""),
    )
    return filters, members


@require_GET
@community_page
def member_list(request: HttpRequest, community: Community) -> HttpResponse:
    filters, members = _filtered_members(request, community)
    page = Paginator(members.prefetch_related("handles"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "members/member_list.html",
        {
            "community": community,
            "filters": filters,
            "page": page,
            "rows": _member_rows(request, community, page.object_list),
            "query": request.GET.urlencode(),
        },
    )


@require_GET
@community_page
def member_export(request: HttpRequest, community: Community) -> HttpResponse:
    """The filtered list as CSV, masked like the page unless the viewer is an owner."""
    _filters, members = _filtered_members(request, community)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{community.slug}-members.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 with a byte-order mark
    writer = csv.writer(response)
    writer.writerow([_("Name"), _("Phone"), _("E-mail"), _("City"), _("Purchases"), _("Tags"), _("Joined")])
    for row in _member_rows(request, community, members.iterator(chunk_size=2000)):
        member = row["member"]
        writer.writerow(
            [
                _csv_safe(member.display_name),
                row["phone"],
                row["email"],
                _csv_safe(member.city),
                member.purchase_count,
                _csv_safe("、".join(member.tags)),
                member.joined_at.strftime("%Y-%m-%d") if member.joined_at else "",
            ]
        )
    return response


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; defuse them."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def _member_form(request: HttpRequest, community: Community, member: Member, data=None) -> MemberForm:
    """Phones and e-mails are the owners' to change; purchases and annual membership (which
    decide tier groups) the hub managers'. Others see those fields, masked and locked."""
    visible = can_see_personal_data(request.user, community)
    form = MemberForm(
        data,
        initial={
            "display_name": member.display_name,
            "phone": shown_phone(member.phone, visible=visible),
            "email": shown_email(member.email, visible=visible),
            "city": member.city,
            "language": member.language,
            "purchase_count": member.purchase_count,
            "annual_member": member.annual_member,
            "lifecycle_stage": member.lifecycle_stage,
            "tags": "、".join(member.tags),
            "notes": member.notes,
        },
    )
    locked = [] if visible else ["phone", "email"]
    if not can_edit_standing(request.user, community):
        locked += ["purchase_count", "annual_member"]
    for field in locked:
        form.fields[field].disabled = True
    return form


def _member_page(request: HttpRequest, community: Community, member: Member, **forms) -> HttpResponse:
    manageable = groups_where(request.user, Capability.MANAGE_MEMBERS).filter(community=community)
    visible = can_see_personal_data(request.user, community)
    memberships = list(selectors.memberships_of(member, request.user))
    for membership in memberships:
        membership.endable = membership.is_active and can_end_membership(request.user, membership)
    roles = roles_offered(request.user, community)
    context = {
        "community": community,
        "member": member,
        "phone": shown_phone(member.phone, visible=visible),
        "email": shown_email(member.email, visible=visible),
        "sees_personal": visible,
        "memberships": memberships,
        "applications": selectors.applications_of(member, request.user),
        "history": selectors.member_history(member, request.user),
        "can_edit": can_edit_member(request.user, member),
        "edit_form": forms.get("edit_form") or _member_form(request, community, member),
        "membership_form": forms.get("membership_form")
        or (MembershipForm(groups=manageable.order_by("tree_id", "lft"), roles=roles) if roles else None),
    }
    return render(request, "members/member_detail.html", context, status=400 if forms else 200)


@require_http_methods(["GET", "POST"])
@community_page
def member_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    member = selectors.member_for_user(request.user, community=community, pk=pk)
    if request.method == "GET":
        return _member_page(request, community, member)
    if not can_edit_member(request.user, member):
        raise PermissionDenied
    form = _member_form(request, community, member, request.POST)
    if form.is_valid():
        try:
            services.member_update(
                member=member,
                **{name: value for name, value in form.service_values().items() if not form.fields[name].disabled},
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("members:member", slug=community.slug, pk=member.pk)
    return _member_page(request, community, member, edit_form=form)


@require_POST
@community_page
def membership_add(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    """Add the member to a group, or change their role there."""
    member = selectors.member_for_user(request.user, community=community, pk=pk)
    manageable = groups_where(request.user, Capability.MANAGE_MEMBERS).filter(community=community)
    form = MembershipForm(request.POST, groups=manageable)
    if form.is_valid():
        group, role = form.cleaned_data["group"], form.cleaned_data["role"]
        if not can_change_role(request.user, member=member, group=group, role=role):
            raise PermissionDenied
        try:
            services.role_grant(member=member, group=group, role=role, by=request.user)
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request,
                _("%(name)s is now %(role)s of %(group)s.")
                % {"name": member.display_name, "role": Role(role).label.lower(), "group": group.name},
            )
            return redirect(_back_to(request, reverse("members:member", args=[community.slug, member.pk])))
    return _member_page(request, community, member, membership_form=form)


@require_POST
@community_page
def membership_end(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    membership = (
        Membership.objects.select_related("group", "member")
        .filter(pk=pk, group__in=groups_where(request.user, Capability.VIEW).filter(community=community))
        .first()
    )
    if membership is None:
        from django.http import Http404

        raise Http404
    if not can_end_membership(request.user, membership):
        raise PermissionDenied
    try:
        if request.POST.get("action") == "revoke":
            services.role_revoke(membership=membership, by=request.user)
            messages.success(request, _("%(name)s is a plain member again.") % {"name": membership.member.display_name})
        else:
            services.membership_end(membership=membership, removed=True, by=request.user)
            messages.success(
                request,
                _("%(name)s was removed from %(group)s.")
                % {"name": membership.member.display_name, "group": membership.group.name},
            )
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(_back_to(request, reverse("members:member", args=[community.slug, membership.member_id])))


@require_GET
@community_page
def roles(request: HttpRequest, community: Community) -> HttpResponse:
    holders = list(selectors.role_holders(request.user, community=community))
    for membership in holders:
        membership.revocable = membership.role in grantable_roles(request.user, membership.group)
    shape = selectors.team_shape(request.user, community)
    members = shape.get("members", 0)
    target_admins = max(1, round(members * 0.1))
    return render(
        request,
        "members/roles.html",
        {
            "community": community,
            "holders": holders,
            "shape": shape,
            "shape_rows": [
                (_("Owners (lead)"), shape.get(Role.OWNER, 0), 1),
                (_("Core admins"), shape.get(Role.CORE_ADMIN, 0), 3),
                (_("Admins and guides"), shape.get(Role.ADMIN, 0) + shape.get(Role.GUIDE, 0), target_admins),
            ],
        },
    )


# --- Live codes -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def livecode_list(request: HttpRequest, community: Community) -> HttpResponse:
    parents = groups_where(request.user, Capability.MANAGE_TREE).filter(community=community).order_by("tree_id", "lft")
    form = LiveCodeForm(request.POST or None, groups=parents)
    if request.method == "POST":
        if not parents.exists():
            raise PermissionDenied
        if form.is_valid():
            who = form.cleaned_data["guide"]
            guide = _member_named(request, community, who) if who else None
            if who and guide is None:
                form.add_error("guide", _("No member called “%(who)s” that you can see.") % {"who": who[:50]})
            else:
                try:
                    code = services.livecode_create(
                        community=community,
                        name=form.cleaned_data["name"],
                        parent=form.cleaned_data["parent"],
                        attribute=form.cleaned_data["attribute"],
                        kind=form.cleaned_data["kind"],
                        groups=None,  # the groups already named by the convention for this attribute
                        join_limit=form.cleaned_data["join_limit"],
                        max_groups=form.cleaned_data["max_groups"],
                        guide=guide,
                    )
                except ApplicationError as error:
                    add_application_error(form, error)
                else:
                    messages.success(request, _("Live code “%(name)s” created.") % {"name": code.name})
                    return redirect("members:livecode", slug=community.slug, pk=code.pk)
    codes = selectors.livecodes_for_user(request.user, community=community)
    return render(
        request,
        "members/livecode_list.html",
        {"community": community, "codes": codes, "form": form, "can_create": parents.exists()},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def livecode_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    code = selectors.livecode_for_user(request.user, community=community, pk=pk)
    if request.method == "POST":
        _require(request, Capability.MANAGE_TREE, code.parent)
        services.livecode_update(code=code, is_active=request.POST.get("is_active") == "1")
        return redirect("members:livecode", slug=community.slug, pk=code.pk)
    pool = selectors.livecode_pool(code)
    return render(
        request,
        "members/livecode_detail.html",
        {
            "community": community,
            "code": code,
            "pool": pool,
            "joins": sum(row.joins for row in pool),
            "public_url": public_url(reverse("members:livecode_public", args=[code.slug])),
            "can_manage": can(request.user, Capability.MANAGE_TREE, code.parent),
        },
    )


# --- A group's questionnaire, team and programme --------------------------------------------


def _group_or_404(request: HttpRequest, community: Community, pk: int) -> Group:
    return tree.group_for_user(request.user, community=community, pk=pk)


def _questionnaire_page(request: HttpRequest, community: Community, group: Group, **forms) -> HttpResponse:
    questions = list(group.questions.prefetch_related("rules").order_by("position", "pk"))
    failed_rule_form, failed_question = forms.get("rule_form"), forms.get("rule_question")
    for question in questions:
        # One rule form per question, with its own ids; a refused one keeps its errors.
        question.rule_form = (
            failed_rule_form
            if failed_question is not None and failed_question.pk == question.pk
            else RuleForm(auto_id=f"id_rule{question.pk}_%s")
        )
    return render(
        request,
        "members/questionnaire.html",
        {
            "community": community,
            "group": group,
            "questions": questions,
            "question_form": forms.get("question_form") or QuestionForm(group=group),
            "rule_question": failed_question,
            "can_manage": can(request.user, Capability.MANAGE_MEMBERS, group),
            "apply_url": public_url(reverse("members:apply", args=[community.slug, group.slug])),
        },
        status=400 if forms else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def questionnaire(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = _group_or_404(request, community, pk)
    if request.method == "GET":
        return _questionnaire_page(request, community, group)
    _require(request, Capability.MANAGE_MEMBERS, group)
    if request.POST.get("action") == "article":
        services.questionnaire_add_article_questions(group=group)
        messages.success(request, _("Added the four questions of the article."))
        return redirect("members:questionnaire", slug=community.slug, pk=group.pk)
    form = QuestionForm(request.POST, group=group)
    if form.is_valid():
        try:
            question_create(group=group, **form.service_values())
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Question added."))
            return redirect("members:questionnaire", slug=community.slug, pk=group.pk)
    return _questionnaire_page(request, community, group, question_form=form)


@require_POST
@community_page
def question_remove(request: HttpRequest, community: Community, pk: int, question_pk: int) -> HttpResponse:
    group = _group_or_404(request, community, pk)
    _require(request, Capability.MANAGE_MEMBERS, group)
    question = Question.objects.filter(group=group, pk=question_pk).first()
    if question is not None:
        question_delete(question=question)
        messages.success(request, _("Question removed."))
    return redirect("members:questionnaire", slug=community.slug, pk=group.pk)


@require_POST
@community_page
def rule_add(request: HttpRequest, community: Community, pk: int, question_pk: int) -> HttpResponse:
    group = _group_or_404(request, community, pk)
    _require(request, Capability.MANAGE_MEMBERS, group)
    question = Question.objects.filter(group=group, pk=question_pk).first()
    if question is None:
        from django.http import Http404

        raise Http404
    form = RuleForm(request.POST, auto_id=f"id_rule{question.pk}_%s")
    if form.is_valid():
        try:
            rule_create(
                question=question,
                operator=form.cleaned_data["operator"],
                value=form.service_value(),
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Rule added."))
            return redirect("members:questionnaire", slug=community.slug, pk=group.pk)
    return _questionnaire_page(request, community, group, rule_form=form, rule_question=question)


@require_POST
@community_page
def rule_remove(request: HttpRequest, community: Community, pk: int, rule_pk: int) -> HttpResponse:
    group = _group_or_404(request, community, pk)
    _require(request, Capability.MANAGE_MEMBERS, group)
    rule = KnockoutRule.objects.filter(question__group=group, pk=rule_pk).first()
    if rule is not None:
        rule_delete(rule=rule)
    return redirect("members:questionnaire", slug=community.slug, pk=group.pk)


def _staff_members(group: Group):
    return Member.objects.filter(pk__in=selectors.group_staff(group).values("member_id"))


def _team_page(request: HttpRequest, community: Community, group: Group, **forms) -> HttpResponse:
    team = selectors.group_staff(group)
    return render(
        request,
        "members/team.html",
        {
            "community": community,
            "group": group,
            "team": team,
            "has_guide": team.filter(role=Role.GUIDE).exists(),
            "assessments": group_assessments(group),
            "assessment_form": forms.get("assessment_form") or AssessmentForm(staff=_staff_members(group)),
            "can_manage": can(request.user, Capability.MANAGE_MEMBERS, group),
            "welcome_preview": welcome_text(group, _("New member")),
            "is_transition": group.in_transition and group.kind != GroupKind.HUB,
        },
        status=400 if forms else 200,
    )


def group_assessments(group: Group):
    from members.models import AdminAssessment

    return (
        AdminAssessment.objects.filter(group=group)
        .select_related("member")
        .order_by("-month", "member__display_name")[:24]
    )


@require_GET
@community_page
def team(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    return _team_page(request, community, _group_or_404(request, community, pk))


@require_POST
@community_page
def assessment_add(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = _group_or_404(request, community, pk)
    _require(request, Capability.MANAGE_MEMBERS, group)
    form = AssessmentForm(request.POST, staff=_staff_members(group))
    if form.is_valid():
        try:
            services.assessment_record(
                member=form.cleaned_data["member"],
                group=group,
                month=form.cleaned_data["month"],
                activity_score=form.cleaned_data["activity_score"],
                dispute_score=form.cleaned_data["dispute_score"],
                notes=form.cleaned_data["notes"],
                by=request.user,
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Assessment saved."))
            return redirect("members:team", slug=community.slug, pk=group.pk)
    return _team_page(request, community, group, assessment_form=form)


def _member_named(request: HttpRequest, community: Community, who: str) -> Member | None:
    """A member the user may see, by account id or exact name."""
    who = who.strip()
    if not who:
        return None
    members = selectors.members_for_user(request.user, community=community)
    return members.filter(handles__external_id=who).first() or members.filter(display_name=who).first()


@require_POST
@community_page
def guide_assign(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    """Name the group's guide (引导员) by name or account id, e.g. for its transition window."""
    group = _group_or_404(request, community, pk)
    _require(request, Capability.MANAGE_MEMBERS, group)
    who = (request.POST.get("who") or "").strip()
    members = selectors.members_for_user(request.user, community=community)
    member = (
        (members.filter(handles__external_id=who).first() or members.filter(display_name=who).first()) if who else None
    )
    if member is None:
        messages.error(request, _("No member called “%(who)s” that you can see.") % {"who": who[:50]})
    elif not can_change_role(request.user, member=member, group=group, role=Role.GUIDE):
        raise PermissionDenied
    else:
        try:
            services.role_grant(member=member, group=group, role=Role.GUIDE, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("%(name)s guides %(group)s.") % {"name": member.display_name, "group": group.name}
            )
    return redirect("members:team", slug=community.slug, pk=group.pk)


@require_http_methods(["GET", "POST"])
@community_page
def guides_rotate(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    """The rotation moved to the admin programme, which ranks members on their real messages
    and replies (no more typed-in counts): old links and forms land on its page for the group."""
    group = _group_or_404(request, community, pk)
    return redirect(f"{reverse('programme:overview', args=[community.slug])}?group={group.pk}")
