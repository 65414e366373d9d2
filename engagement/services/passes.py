"""Members' passes: the private link every member-facing page of the growth apps hangs off."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import Http404

from engagement.models import MemberPass, _pass_token
from members.models import Member


def member_pass(*, member: Member) -> MemberPass:
    """The member's pass, made on first use. Two requests at once both get the one pass."""
    existing = MemberPass.objects.filter(member=member).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return MemberPass.objects.create(member=member)
    except IntegrityError:
        return MemberPass.objects.get(member=member)


def member_pass_reset(*, member: Member) -> MemberPass:
    """A new token: the old link stops working (e.g. it was shared by mistake)."""
    member_pass(member=member)
    MemberPass.objects.filter(member=member).update(token=_pass_token())
    return MemberPass.objects.get(member=member)


def pass_holder(*, token: str, **_kwargs):
    """(community, member) of a member's private link, for ``subgroups.locale.member_page``."""
    member = member_for_pass(token)
    return member.community, member


def member_for_pass(token: str) -> Member:
    """The member a link belongs to, or 404: an unknown token says nothing about who exists."""
    found = MemberPass.objects.select_related("member", "member__community").filter(token=token[:32]).first()
    if found is None:
        raise Http404
    return found.member
