"""Personal invitation codes (裂变邀请码): the code in a member's own invitation link, and the
member a code names. Referrals themselves (who brought whom, and whether it counts) live in
the fission app above; the funnel here only carries the inviter along."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from members.models import Member
from subgroups.models import Community

# No 0/O, 1/I/L: a code read aloud or copied from a screenshot comes out right.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_CODE_LENGTH = 6  # 31⁶ ≈ 887 million codes
_ATTEMPTS = 8


def _new_code(length: int = INVITE_CODE_LENGTH) -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(length))


def normalise_invite_code(code: str) -> str:
    """Codes are kept in capitals; people type them in any case, with stray spaces."""
    code = "".join((code or "").split()).upper()
    if not 4 <= len(code) <= 16 or any(character not in INVITE_ALPHABET for character in code):
        return ""
    return code


def member_invite_code(*, member: Member) -> str:
    """The member's invitation code, made on first use. Two requests at once both get the one
    code (the update only fills an empty code); a code another member already holds makes the
    unique index refuse it, and a fresh code is drawn."""
    if member.invite_code:
        return member.invite_code
    for attempt in range(_ATTEMPTS):
        # A longer code once the short ones keep colliding: never loop for ever.
        code = _new_code(INVITE_CODE_LENGTH + (attempt // 3))
        try:
            with transaction.atomic():
                Member.objects.filter(pk=member.pk, invite_code__isnull=True).update(invite_code=code)
        except IntegrityError:
            continue
        member.invite_code = Member.objects.filter(pk=member.pk).values_list("invite_code", flat=True).get()
        if member.invite_code:
            return member.invite_code
    raise RuntimeError("could not draw a free invitation code")  # pragma: no cover - 8 collisions in a row


def member_by_invite_code(*, community: Community, code: str) -> Member | None:
    """The member of ``community`` whose invitation code this is; None for an unknown code or a
    code of another community (so a ``?ref=`` from elsewhere is simply ignored)."""
    code = normalise_invite_code(code)
    if not code:
        return None
    return Member.objects.filter(community=community, invite_code=code).first()


def inviter_first_name(member: Member) -> str:
    """How a public page names the inviter: the first word of their display name (李雷 stays
    李雷, "Lin Wei" becomes "Lin"), never anything else about them."""
    words = (member.display_name or "").split()
    return words[0] if words else ""
