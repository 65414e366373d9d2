"""The public side of the funnel: no login. Applying, checking and withdrawing an application,
accepting an invitation, and a live code's landing page."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ApplicationError, RateLimited
from core.forms import add_application_error
from core.net import client_ip
from core.ratelimit import allow
from members import selectors, services
from members.forms import ApplicationForm, JoinForm
from members.models import Application, Invitation, LiveCode, Member
from members.services.funnel import public_url, welcome_text
from members.services.referrals import inviter_first_name, member_by_invite_code
from subgroups.locale import member_page
from subgroups.models import Group
from subgroups.selectors import fresh_join_link


def _inviter(request: HttpRequest, community) -> tuple[Member | None, str]:
    """The member whose invitation link (``?ref=<code>``, kept through the form as a hidden
    field) brought the visitor, and the code to keep. An unknown code, or one of another
    community, is ignored without a word."""
    code = (request.POST.get("ref") or request.GET.get("ref") or "")[:32]
    inviter = member_by_invite_code(community=community, code=code) if code else None
    return inviter, (inviter.invite_code if inviter else "")


def _referral_context(inviter: Member | None, code: str) -> dict:
    return {"ref": code, "inviter_name": inviter_first_name(inviter) if inviter else ""}


def _group_community(community_slug: str, group_slug: str):
    group = Group.objects.select_related("community").filter(community__slug=community_slug, slug=group_slug).first()
    return group.community if group else None


def _applicant(token: str):
    application = Application.objects.select_related("community", "member").filter(status_token=token).first()
    return (application.community, application.member) if application else None


def _invitee(token: str):
    invite = Invitation.objects.select_related("community", "member").filter(token=token).first()
    return (invite.community, invite.member) if invite else None


def _livecode_community(slug: str):
    code = LiveCode.objects.select_related("community").filter(slug=slug).first()
    return code.community if code else None


def _refused(request: HttpRequest, error: RateLimited) -> HttpResponse:
    return render(request, "members/public/refused.html", {"message": error.message}, status=429)


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(_group_community)
def apply(request: HttpRequest, community_slug: str, group_slug: str) -> HttpResponse:
    group = get_object_or_404(
        Group.objects.select_related("community", "community__hub"), community__slug=community_slug, slug=group_slug
    )
    if group.is_archived or group.is_hub:
        raise Http404
    questions = list(group.questions.order_by("position", "pk"))
    form = ApplicationForm(request.POST or None, questions=questions)
    inviter, ref = _inviter(request, group.community)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["website"]:
            # A bot filled the honeypot: thank it and store nothing.
            return render(request, "members/public/received.html", {"group": group, "application": None})
        try:
            application = services.application_submit(
                group=group,
                display_name=form.cleaned_data["display_name"],
                phone=form.cleaned_data["phone"],
                email=form.cleaned_data["email"],
                city=form.cleaned_data["city"],
                platform=form.cleaned_data["platform"],
                external_user_id=form.cleaned_data["external_user_id"],
                answers=form.answers(),
                ip_address=client_ip(request),
                referred_by=inviter,
            )
        except RateLimited as error:
            return _refused(request, error)
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            return redirect("members:application_status", token=application.status_token)
    status = 400 if form.errors else 200
    context = {"group": group, "form": form, **_referral_context(inviter, ref)}
    return render(request, "members/public/apply.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(_applicant)
def application_status(request: HttpRequest, token: str) -> HttpResponse:
    application = get_object_or_404(Application.objects.select_related("group"), status_token=token)
    error = ""
    if request.method == "POST":
        try:
            services.application_withdraw(status_token=token)
        except ApplicationError as refusal:
            error = refusal.message
        else:
            return redirect("members:application_status", token=token)
        application.refresh_from_db()
    invitation = getattr(application, "invitation", None)
    return render(
        request,
        "members/public/status.html",
        {"application": application, "group": application.group, "invitation": invitation, "error": error},
        status=400 if error else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(_invitee)
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation; only POST uses it, so link previews cannot spend it."""
    invite = selectors.invitation_by_token(token)
    group = invite.group
    if request.method == "POST":
        try:
            joined = services.invitation_accept(token=token)
        except ApplicationError as error:
            return render(
                request,
                "members/public/invitation.html",
                {"invitation": invite, "group": group, "error": error.message},
                status=400,
            )
        return render(
            request,
            "members/public/joined.html",
            {
                "group": group,
                "membership": joined.membership,
                "welcome": joined.welcome.body,
                "join_link": fresh_join_link(group),
            },
        )
    return render(request, "members/public/invitation.html", {"invitation": invite, "group": group})


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(_livecode_community)
def livecode(request: HttpRequest, slug: str) -> HttpResponse:
    code = get_object_or_404(LiveCode.objects.select_related("community", "community__hub"), slug=slug)
    form = JoinForm(request.POST or None)
    inviter, ref = _inviter(request, code.community)
    referral = _referral_context(inviter, ref)
    if request.method == "GET":
        services.livecode_scan(code=code)
    elif form.is_valid():
        if form.cleaned_data["website"]:
            return render(request, "members/public/livecode.html", {"code": code, "form": JoinForm(), **referral})
        ip = client_ip(request)
        if ip and not allow("livecode-ip", ip, limit=settings.CANOPY_LIVECODE_LIMIT_PER_IP, window_seconds=3600):
            return _refused(
                request, RateLimited(_("Too many joins from your network in the last hour. Please try again later."))
            )
        try:
            membership = services.livecode_join(
                code=code, display_name=form.cleaned_data["display_name"], invited_by=inviter
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            return render(
                request,
                "members/public/joined.html",
                {
                    "group": membership.group,
                    "membership": membership,
                    "welcome": welcome_text(membership.group, membership.member.display_name, membership.member),
                    "join_link": fresh_join_link(membership.group),
                },
            )
    return render(
        request,
        "members/public/livecode.html",
        {"code": code, "form": form, **referral},
        status=400 if form.errors else 200,
    )


@require_GET
def livecode_qr(request: HttpRequest, slug: str) -> HttpResponse:
    code = get_object_or_404(LiveCode, slug=slug)
    qr = segno.make(public_url(reverse("members:livecode_public", args=[code.slug])), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, dark="#1d2a22", border=2, xmldecl=False)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return response
