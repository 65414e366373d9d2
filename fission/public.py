"""Fission's public pages, no login: a member's invitation landing page (``/i/<code>/``) with
its QR image, and the member's own invitations page (``/me/<token>/invites/``, addressed by
their pass)."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from engagement.services.passes import member_for_pass, pass_holder
from fission import selectors
from fission.models import BENCHMARK_COEFFICIENT
from fission.services.referrals import referrals_credit
from members.models import LiveCode, Member
from members.services.funnel import public_url
from members.services.referrals import member_invite_code, normalise_invite_code
from subgroups.locale import member_page
from subgroups.models import Group, GroupStatus

MAX_GROUPS_SHOWN = 30


def invite_link(member: Member) -> str:
    """The member's personal invitation link, made (with its code) on first use."""
    return public_url(reverse("fission:landing", args=[member_invite_code(member=member)]))


def _inviter(code: str) -> Member:
    code = normalise_invite_code(code)
    member = Member.objects.select_related("community", "community__hub").filter(invite_code=code).first()
    if not code or member is None:
        raise Http404
    return member


def _with_ref(path: str, code: str) -> str:
    return f"{path}?{urlencode({'ref': code})}"


@require_GET
@member_page(lambda code: _inviter(code).community)
def landing(request: HttpRequest, code: str) -> HttpResponse:
    """Who invited you (their display name, nothing else), the community, and the ways in: its
    sub-groups taking applications and its live codes, each link carrying the code."""
    inviter = _inviter(code)
    community = inviter.community
    groups = (
        Group.objects.filter(community=community, parent__isnull=False)
        .exclude(status=GroupStatus.ARCHIVED)
        .order_by("tree_id", "lft")[:MAX_GROUPS_SHOWN]
    )
    codes = LiveCode.objects.filter(community=community, is_active=True).order_by("name", "pk")
    ways = [
        {
            "group": group,
            "url": _with_ref(reverse("members:apply", args=[community.slug, group.slug]), inviter.invite_code),
        }
        for group in groups
    ]
    live = [
        {
            "code": live_code,
            "url": _with_ref(reverse("members:livecode_public", args=[live_code.slug]), inviter.invite_code),
        }
        for live_code in codes
    ]
    return render(
        request,
        "fission/landing.html",
        {"inviter_name": inviter.display_name, "community": community, "groups": ways, "live_codes": live},
    )


@require_GET
def landing_qr(request: HttpRequest, code: str) -> HttpResponse:
    inviter = _inviter(code)
    qr = segno.make(public_url(reverse("fission:landing", args=[inviter.invite_code])), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, dark="#1d2a22", border=2, xmldecl=False)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@never_cache
@require_GET
@member_page(pass_holder)
def my_invites(request: HttpRequest, token: str) -> HttpResponse:
    """The member's link and QR image, how many friends joined through it, and their progress
    on each running invite task."""
    member = member_for_pass(token)
    link = invite_link(member)
    progress = selectors.member_progress(member)
    if progress["waiting"]:
        # Friends who joined since beat's last run: check them now (idempotent, and cheap for a
        # handful), so the member sees them counted the moment they look.
        referrals_credit(community=member.community)
        progress = selectors.member_progress(member)
    return render(
        request,
        "fission/my_invites.html",
        {
            "member": member,
            "community": member.community,
            "link": link,
            "qr_url": reverse("fission:landing_qr", args=[member.invite_code]),
            "benchmark": BENCHMARK_COEFFICIENT,
            **progress,
        },
    )
