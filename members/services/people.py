"""Members, their platform accounts, memberships and roles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from members import rules
from members.models import (
    Member,
    Membership,
    MembershipEvent,
    MembershipSource,
    MembershipStatus,
    PlatformHandle,
    Role,
)
from subgroups import services as tree
from subgroups.models import Community, Group

_UNSET: Any = object()


class GroupFull(ApplicationError):
    """The group has no seat left (or none under the routing limit)."""

    code = "group_full"


def member_by_handle(*, community: Community, platform: str, external_id: str) -> Member | None:
    """The member with this platform account. Only an account an integration vouches for
    identifies a person: a phone or e-mail typed into a public form never does."""
    if not (platform and external_id):
        return None
    handle = (
        PlatformHandle.objects.filter(community=community, platform=platform, external_id=external_id)
        .select_related("member")
        .first()
    )
    return handle.member if handle else None


def _record(membership: Membership, action: str, *, by=None, previous_role: str = "", reason: str = "") -> None:
    MembershipEvent.objects.create(
        membership=membership,
        action=action,
        role=membership.role,
        previous_role=previous_role,
        by=by if by is not None and getattr(by, "is_authenticated", False) else None,
        reason=reason[:300],
    )


@transaction.atomic
def member_create(
    *,
    community: Community,
    display_name: str,
    phone: str = "",
    email: str = "",
    city: str = "",
    language: str = "",
    purchase_count: int = 0,
    annual_member: bool = False,
    lifecycle_stage: str = "",
    tags: Iterable[str] = (),
    notes: str = "",
    user=None,
    handles: Iterable[tuple[str, str]] = (),
    group: Group | None = None,
    by=None,
) -> Member:
    """A new member; with ``group``, also put in that group (all or nothing)."""
    member = Member.objects.create(
        community=community,
        display_name=rules.clean_name(display_name),
        phone=rules.clean_phone(phone),
        email=rules.clean_email(email),
        city=rules.clean_city(city),
        language=rules.clean_language(language),
        purchase_count=rules.clean_purchases(purchase_count),
        annual_member=bool(annual_member),
        lifecycle_stage=rules.clean_stage(lifecycle_stage),
        tags=rules.clean_tags(list(tags)),
        notes=rules.clean_long_text(notes, "notes"),
        user=user,
    )
    for platform, external_id in handles:
        handle_add(member=member, platform=platform, external_id=external_id)
    if group is not None:
        membership_add(member=member, group=group, source=MembershipSource.MANUAL, by=by)
    return member


@transaction.atomic
def member_update(
    *,
    member: Member,
    display_name: str = _UNSET,
    phone: str = _UNSET,
    email: str = _UNSET,
    city: str = _UNSET,
    language: str = _UNSET,
    purchase_count: int = _UNSET,
    annual_member: bool = _UNSET,
    lifecycle_stage: str = _UNSET,
    tags: Iterable[str] = _UNSET,
    notes: str = _UNSET,
) -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    cleaners = {
        "display_name": rules.clean_name,
        "phone": rules.clean_phone,
        "email": rules.clean_email,
        "city": rules.clean_city,
        "language": rules.clean_language,
        "purchase_count": rules.clean_purchases,
        "annual_member": bool,
        "lifecycle_stage": rules.clean_stage,
        "tags": lambda value: rules.clean_tags(list(value) if not isinstance(value, str) else value),
        "notes": lambda value: rules.clean_long_text(value, "notes"),
    }
    values = {
        "display_name": display_name,
        "phone": phone,
        "email": email,
        "city": city,
        "language": language,
        "purchase_count": purchase_count,
        "annual_member": annual_member,
        "lifecycle_stage": lifecycle_stage,
        "tags": tags,
        "notes": notes,
    }
    for field, value in values.items():
        if value is not _UNSET:
            setattr(member, field, cleaners[field](value))
    member.save()
    return member


@transaction.atomic
def handle_add(*, member: Member, platform: str, external_id: str) -> PlatformHandle:
    platform, external_id = rules.clean_handle(platform, external_id)
    if not platform:
        raise ApplicationError(_("Choose the platform of this account."), field="platform")
    existing = PlatformHandle.objects.filter(
        community_id=member.community_id, platform=platform, external_id=external_id
    ).first()
    if existing is not None:
        if existing.member_id == member.pk:
            return existing
        raise ApplicationError(
            _("This account already belongs to another member of the community."), field="external_user_id"
        )
    try:
        with transaction.atomic():
            return PlatformHandle.objects.create(
                community_id=member.community_id, member=member, platform=platform, external_id=external_id
            )
    except IntegrityError:
        raise ApplicationError(
            _("This account already belongs to another member of the community."), field="external_user_id"
        ) from None


@transaction.atomic
def membership_add(
    *,
    member: Member,
    group: Group,
    source: str,
    role: str = Role.MEMBER,
    invited_by: Member | None = None,
    live_code=None,
    seat_limit: int | None = None,
    role_until: datetime | None = None,
    by=None,
) -> Membership:
    """Put a member in a group, if it has a seat. A member already active there keeps the
    membership they have (it is returned unchanged)."""
    if member.community_id != group.community_id:
        raise ApplicationError(_("The member and the group belong to different communities."), field="group")
    if role not in Role.values or source not in MembershipSource.values:
        raise ApplicationError(_("Unknown role or source."), field="role")
    existing = Membership.objects.filter(member=member, group=group, status=MembershipStatus.ACTIVE).first()
    if existing is not None:
        return existing
    if not tree.group_take_seats(group_id=group.pk, limit=seat_limit):
        group.refresh_from_db(fields=["member_count", "capacity", "status"])
        if group.is_archived:
            raise ApplicationError(_("“%(group)s” is archived.") % {"group": group.name}, field="group")
        raise GroupFull(
            _("“%(group)s” is full (%(count)d of %(capacity)d).")
            % {"group": group.name, "count": group.member_count, "capacity": group.capacity},
            field="group",
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                member=member,
                group=group,
                role=role,
                source=source,
                invited_by=invited_by,
                live_code=live_code,
                joined_at=now,
                role_since=now if role != Role.MEMBER else None,
                role_until=role_until,
            )
    except IntegrityError:
        # Someone else added them a moment ago: give the seat back and use theirs.
        tree.group_release_seat(group_id=group.pk)
        return Membership.objects.get(member=member, group=group, status=MembershipStatus.ACTIVE)
    if member.joined_at is None:
        Member.objects.filter(pk=member.pk, joined_at__isnull=True).update(joined_at=now)
        member.joined_at = now
    _record(membership, MembershipEvent.Action.JOINED, by=by)
    return membership


@transaction.atomic
def memberships_import(*, group: Group, members: Iterable[Member], source: str = MembershipSource.IMPORT) -> int:
    """Put many members in a group at once (imports, the demo): all fit or none are added.
    Members already in the group are skipped. Returns how many joined."""
    members = [member for member in members if member.community_id == group.community_id]
    already = set(
        Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE, member__in=members).values_list(
            "member_id", flat=True
        )
    )
    newcomers = list({member.pk: member for member in members if member.pk not in already}.values())
    if not newcomers:
        return 0
    if not tree.group_take_seats(group_id=group.pk, seats=len(newcomers)):
        group.refresh_from_db(fields=["member_count", "capacity"])
        raise GroupFull(
            _("%(count)d newcomers do not fit in “%(group)s” (%(room)d seats left).")
            % {"count": len(newcomers), "group": group.name, "room": group.room},
            field="group",
        )
    now = timezone.now()
    Membership.objects.bulk_create(
        Membership(member=member, group=group, source=source, joined_at=now) for member in newcomers
    )
    Member.objects.filter(pk__in=[member.pk for member in newcomers], joined_at__isnull=True).update(joined_at=now)
    return len(newcomers)


def _ensure_an_owner_remains(membership: Membership) -> None:
    if membership.role != Role.OWNER or not membership.group.is_hub:
        return
    others = Membership.objects.filter(group=membership.group, role=Role.OWNER, status=MembershipStatus.ACTIVE).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise ApplicationError(_("A community keeps at least one owner: make someone else owner first."))


@transaction.atomic
def membership_end(*, membership: Membership, removed: bool = False, by=None, reason: str = "") -> Membership:
    """The member left the group (or an admin removed them). Their seat is freed."""
    membership = Membership.objects.select_for_update().select_related("group").get(pk=membership.pk)
    if not membership.is_active:
        return membership
    _ensure_an_owner_remains(membership)
    membership.status = MembershipStatus.REMOVED if removed else MembershipStatus.LEFT
    membership.left_at = timezone.now()
    membership.save(update_fields=["status", "left_at", "updated_at"])
    tree.group_release_seat(group_id=membership.group_id)
    _record(
        membership,
        MembershipEvent.Action.REMOVED if removed else MembershipEvent.Action.LEFT,
        by=by,
        reason=reason,
    )
    return membership


@transaction.atomic
def role_grant(
    *,
    member: Member,
    group: Group,
    role: str,
    role_until: datetime | None = None,
    source: str = MembershipSource.MANUAL,
    by=None,
    reason: str = "",
) -> Membership:
    """Give a member a role on a group (joining them to it if needed). The role covers the
    group's whole subtree."""
    if role not in Role.values:
        raise ApplicationError(_("Unknown role."), field="role")
    membership = (
        Membership.objects.select_for_update()
        .select_related("group")
        .filter(member=member, group=group, status=MembershipStatus.ACTIVE)
        .first()
    )
    if membership is None:
        return membership_add(member=member, group=group, source=source, role=role, role_until=role_until, by=by)
    previous = membership.role
    if previous != role:
        if role != Role.OWNER:
            _ensure_an_owner_remains(membership)
        membership.role = role
        membership.role_since = timezone.now() if role != Role.MEMBER else None
    membership.role_until = role_until
    membership.save(update_fields=["role", "role_since", "role_until", "updated_at"])
    if previous != role:
        _record(membership, MembershipEvent.Action.ROLE, by=by, previous_role=previous, reason=reason)
    return membership


def role_revoke(*, membership: Membership, by=None) -> Membership:
    """Back to plain member, still in the group."""
    return role_grant(member=membership.member, group=membership.group, role=Role.MEMBER, by=by)


@transaction.atomic
def owner_add(*, community: Community, user, by=None) -> Membership:
    """Make a dashboard user an owner of the community (群主 of the hub)."""
    member = Member.objects.filter(community=community, user=user).first()
    if member is None:
        member = member_create(
            community=community,
            display_name=user.get_full_name() or user.get_username(),
            email=user.email or "",
            user=user,
        )
    return role_grant(member=member, group=community.hub, role=Role.OWNER, by=by)


# --- Accounts and memberships as integrations see them ----------------------------------------


def members_for_handles(
    *,
    community: Community,
    handles: dict[tuple[str, str], str],
    first_seen: dict[tuple[str, str], datetime] | None = None,
) -> tuple[dict, int]:
    """Member ids for platform accounts ``(platform, external id) -> display name``, creating a
    member for each account the community has not seen (an integration vouches for it).
    Returns the mapping and how many members were created. A new member joined when they
    were ``first_seen`` (default: now).

    Lock-free under concurrency: two batches that both meet a new account both create a
    member, the unique handle keeps one, and the loser's member is deleted again."""
    if not handles:
        return {}, 0
    found = _handle_ids(community, handles)
    missing = [key for key in handles if key not in found]
    if not missing:
        return found, 0
    now = timezone.now()
    with transaction.atomic():
        created = Member.objects.bulk_create(
            Member(
                community=community,
                display_name=(handles[key] or key[1])[:100],
                joined_at=(first_seen or {}).get(key, now),
            )
            for key in missing
        )
        PlatformHandle.objects.bulk_create(
            (
                PlatformHandle(community=community, member=member, platform=key[0], external_id=key[1])
                for key, member in zip(missing, created, strict=True)
            ),
            ignore_conflicts=True,
        )
        found.update(_handle_ids(community, dict.fromkeys(missing, "")))
        kept = {found[key] for key in missing}
        losers = [member.pk for member in created if member.pk not in kept]
        if losers:
            Member.objects.filter(pk__in=losers).delete()
    return found, len(created) - len(losers)


def _handle_ids(community: Community, handles: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, external_id in handles:
        by_platform.setdefault(platform, []).append(external_id)
    for platform, external_ids in by_platform.items():
        for start in range(0, len(external_ids), 2000):
            rows = PlatformHandle.objects.filter(
                community=community, platform=platform, external_id__in=external_ids[start : start + 2000]
            ).values_list("external_id", "member_id")
            found.update(((platform, external_id), member_id) for external_id, member_id in rows)
    return found


@transaction.atomic
def memberships_follow_platform(*, changes: Iterable[tuple[int, int, str, datetime]]) -> tuple[int, int]:
    """Record joins and leaves that an integration saw, ``(member id, group id, "join" or
    "leave", when)`` in any order: a join opens a membership (unless one is open), a leave closes
    the open one. The platform already let them in or out, so capacity does not apply.
    Returns (joined, left)."""
    joined = left = 0
    for member_id, group_id, action, when in sorted(changes, key=lambda change: change[3]):
        open_membership = (
            Membership.objects.select_for_update()
            .filter(member_id=member_id, group_id=group_id, status=MembershipStatus.ACTIVE)
            .first()
        )
        if action == "join" and open_membership is None:
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(
                        member_id=member_id, group_id=group_id, source=MembershipSource.PLATFORM, joined_at=when
                    )
            except IntegrityError:
                continue  # another batch opened it a moment ago
            tree.group_count_arrivals(group_id=group_id, seats=1)
            Member.objects.filter(pk=member_id, joined_at__isnull=True).update(joined_at=when)
            _record(membership, MembershipEvent.Action.JOINED)
            joined += 1
        elif action == "leave" and open_membership is not None and open_membership.joined_at <= when:
            if open_membership.role == Role.OWNER:
                continue  # an owner stays on record until someone else is made owner
            open_membership.status = MembershipStatus.LEFT
            open_membership.left_at = when
            open_membership.save(update_fields=["status", "left_at", "updated_at"])
            tree.group_release_seat(group_id=group_id)
            _record(open_membership, MembershipEvent.Action.LEFT, reason="platform")
            left += 1
    return joined, left


@transaction.atomic
def memberships_seen(*, first_seen: dict[tuple[int, int], datetime]) -> int:
    """Members an integration saw acting in a group they have no membership of, ever, are
    members of it since then (``(member id, group id) -> first time seen``). A member who
    has left keeps their history: a late event does not bring them back. Returns how many
    memberships were opened."""
    if not first_seen:
        return 0
    member_ids = {member_id for member_id, _group_id in first_seen}
    known = set(
        Membership.objects.filter(member_id__in=member_ids, group_id__in={group for _m, group in first_seen})
        .values_list("member_id", "group_id")
        .distinct()
    )
    new = [(pair, when) for pair, when in first_seen.items() if pair not in known]
    if not new:
        return 0

    def membership(pair: tuple[int, int], when: datetime) -> Membership:
        return Membership(member_id=pair[0], group_id=pair[1], source=MembershipSource.PLATFORM, joined_at=when)

    try:
        with transaction.atomic():
            Membership.objects.bulk_create(membership(pair, when) for pair, when in new)
        created = new
    except IntegrityError:
        # A concurrent batch opened some of them: theirs stand, and only ours take seats.
        created = []
        for pair, when in new:
            try:
                with transaction.atomic():
                    membership(pair, when).save()
            except IntegrityError:
                continue
            created.append((pair, when))
    per_group: dict[int, int] = {}
    for (_member_id, group_id), _when in created:
        per_group[group_id] = per_group.get(group_id, 0) + 1
    for group_id, seats in per_group.items():
        tree.group_count_arrivals(group_id=group_id, seats=seats)
    return len(created)
