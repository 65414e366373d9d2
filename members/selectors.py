"""Reads about people, scoped to what the user may see."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    LiveCode,
    LiveCodeGroup,
    Member,
    Membership,
    MembershipEvent,
    MembershipStatus,
    Role,
)
from members.permissions import can, can_see_personal_data, groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group

# --- Members --------------------------------------------------------------------------------


def members_visible_to(user) -> QuerySet[Member]:
    """Across communities: every member of a community whose hub the user may view, and in
    other communities the members who are or were in a group the user may view."""
    visible = groups_where(user, Capability.VIEW)
    whole = Community.objects.filter(hub__in=visible).values("pk")
    return Member.objects.filter(
        Q(community__in=whole) | Exists(Membership.objects.filter(member=OuterRef("pk"), group__in=visible))
    )


def personal_data_communities(user) -> set[int]:
    """Communities whose members' phones and e-mails the user may see (their owners')."""
    return set(
        Community.objects.filter(hub__in=groups_where(user, Capability.SEE_PERSONAL_DATA)).values_list("pk", flat=True)
    )


def members_for_user(
    user,
    *,
    community: Community,
    search: str = "",
    group: Group | None = None,
    role: str = "",
    tag: str = "",
    city: str = "",
) -> QuerySet[Member]:
    """Members the user may see: all of the community's for those who may view the hub;
    otherwise those who are or were in a group the user may view."""
    members = Member.objects.filter(community=community)
    if not (community.hub_id and can(user, Capability.VIEW, community.hub)):
        visible = groups_where(user, Capability.VIEW).filter(community=community)
        members = members.filter(Exists(Membership.objects.filter(member=OuterRef("pk"), group__in=visible)))
    if search:
        matches = Q(display_name__icontains=search) | Q(handles__external_id=search)
        if can_see_personal_data(user, community):
            # Only those who see phones may search by them: otherwise a masked 138****1234
            # could be uncovered digit by digit.
            matches |= Q(email__iexact=search) | Q(phone__endswith=search.strip().lstrip("+"))
        members = members.filter(matches)
    active = Membership.objects.filter(member=OuterRef("pk"), status=MembershipStatus.ACTIVE)
    if group is not None:
        active = active.filter(group=group)
    if role:
        active = active.filter(role=role)
    if group is not None or role:
        members = members.filter(Exists(active))
    if tag:
        members = with_tag(members, tag)
    if city:
        members = members.filter(city=city)
    return members.distinct().order_by("display_name", "pk")


def with_tag(members: QuerySet[Member], tag: str) -> QuerySet[Member]:
    # JSON containment on PostgreSQL; SQLite has none, but stores the list as readable text.
    from django.db import connection

    if connection.vendor == "postgresql":
        return members.filter(tags__contains=[tag])
    return members.filter(tags__icontains=json.dumps(tag, ensure_ascii=False))


def member_for_user(user, *, community: Community, pk: int) -> Member:
    try:
        return members_for_user(user, community=community).get(pk=pk)
    except (Member.DoesNotExist, ValueError):
        raise Http404 from None


def _seen_groups(user, community: Community) -> QuerySet[Group] | None:
    """None when the user sees the whole community (the hub), else the groups they may see."""
    if community.hub_id and can(user, Capability.VIEW, community.hub):
        return None
    return groups_where(user, Capability.VIEW).filter(community=community)


def memberships_of(member: Member, user) -> QuerySet[Membership]:
    """The member's memberships in the groups the user may see."""
    memberships = member.memberships.select_related("group", "invited_by", "live_code")
    seen = _seen_groups(user, member.community)
    if seen is not None:
        memberships = memberships.filter(group__in=seen)
    return memberships.order_by("status", "-joined_at")


def applications_of(member: Member, user) -> QuerySet[Application]:
    applications = member.applications.select_related("group", "decided_by")
    seen = _seen_groups(user, member.community)
    if seen is not None:
        applications = applications.filter(group__in=seen)
    return applications.order_by("-submitted_at")


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    text: str


def member_history(member: Member, user) -> list[HistoryEntry]:
    """What happened to this person in the groups the user may see, newest first, from the
    records themselves."""
    entries: list[HistoryEntry] = []
    for application in applications_of(member, user):
        entries.append(
            HistoryEntry(application.submitted_at, _("Applied to %(group)s") % {"group": application.group.name})
        )
        if application.decided_at:
            who = application.decided_by.get_username() if application.decided_by else _("a rule")
            entries.append(
                HistoryEntry(
                    application.decided_at,
                    _("Application %(status)s by %(who)s: %(reason)s")
                    % {
                        "status": application.get_status_display().lower(),
                        "who": who,
                        "reason": application.decision_reason or "—",
                    },
                )
            )
    memberships = memberships_of(member, user)
    events = MembershipEvent.objects.filter(membership__in=memberships).select_related("membership__group", "by")
    for event in events:
        group = event.membership.group.name
        who = event.by.get_username() if event.by else ""
        if event.action == MembershipEvent.Action.JOINED:
            text = _("Joined %(group)s as %(role)s (%(source)s)") % {
                "group": group,
                "role": event.get_role_display().lower(),
                "source": event.membership.get_source_display().lower(),
            }
        elif event.action == MembershipEvent.Action.ROLE:
            text = _("%(previous)s → %(role)s in %(group)s") % {
                "previous": event.get_previous_role_display(),
                "role": event.get_role_display(),
                "group": group,
            }
        else:
            text = _("%(status)s %(group)s") % {"status": event.get_action_display(), "group": group}
        if who:
            text = _("%(what)s, by %(who)s") % {"what": text, "who": who}
        if event.reason:
            text = f"{text}: {event.reason}"
        entries.append(HistoryEntry(event.at, text))
    return sorted(entries, key=lambda entry: entry.when, reverse=True)


# --- Roles ----------------------------------------------------------------------------------


def role_holders(user, *, community: Community) -> QuerySet[Membership]:
    visible = groups_where(user, Capability.VIEW).filter(community=community)
    return (
        Membership.objects.filter(group__in=visible, status=MembershipStatus.ACTIVE)
        .exclude(role=Role.MEMBER)
        .select_related("member", "group")
        .order_by("group__tree_id", "group__lft", "role", "member__display_name")
    )


def group_staff(group: Group) -> QuerySet[Membership]:
    """Who holds a role on this group itself (not inherited from above)."""
    return (
        Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE)
        .exclude(role=Role.MEMBER)
        .select_related("member")
    )


def team_shape(user, community: Community) -> dict[str, int]:
    """Counts for the healthy shape, 1 lead + 3 core admins + ~10% user admins, over the groups
    the user may see."""
    visible = groups_where(user, Capability.VIEW).filter(community=community)
    counts = dict(
        Membership.objects.filter(group__in=visible, status=MembershipStatus.ACTIVE)
        .exclude(role=Role.MEMBER)
        .order_by()
        .values("role")
        .annotate(n=Count("member", distinct=True))
        .values_list("role", "n")
    )
    counts["members"] = (
        Member.objects.filter(community=community, memberships__status=MembershipStatus.ACTIVE).distinct().count()
    )
    return counts


# --- Applications ---------------------------------------------------------------------------

AGE_FILTERS = {
    "1d": (None, timedelta(days=1)),
    "3d": (timedelta(days=1), timedelta(days=3)),
    "older": (timedelta(days=3), None),
}


def reviewable_groups(user, *, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.REVIEW_APPLICATIONS).filter(community=community).order_by("tree_id", "lft")


def application_queue(
    user,
    *,
    community: Community,
    group: Group | None = None,
    status: str = ApplicationStatus.PENDING,
    age: str = "",
) -> QuerySet[Application]:
    """Applications to the groups the user may review, oldest first."""
    applications = Application.objects.filter(group__in=reviewable_groups(user, community=community))
    if group is not None:
        applications = applications.filter(group=group)
    if status:
        applications = applications.filter(status=status)
    applications = with_age(applications, age)
    return applications.select_related("group", "decided_by", "member").order_by("submitted_at", "pk")


def with_age(applications: QuerySet[Application], age: str) -> QuerySet[Application]:
    """Applications waiting under a day ("1d"), 1–3 days ("3d") or longer ("older")."""
    if age not in AGE_FILTERS:
        return applications
    now = timezone.now()
    at_least, under = AGE_FILTERS[age]
    if under:
        applications = applications.filter(submitted_at__gt=now - under)
    if at_least:
        applications = applications.filter(submitted_at__lte=now - at_least)
    return applications


def application_for_user(user, *, community: Community, pk: int) -> Application:
    try:
        return application_queue(user, community=community, status="").get(pk=pk)
    except (Application.DoesNotExist, ValueError):
        raise Http404 from None


def applicant_history(application: Application, user) -> QuerySet[Application]:
    """The same person's other applications, to the groups this reviewer reviews."""
    same = Q(contact_key=application.contact_key)
    if application.member_id:
        same |= Q(member_id=application.member_id)
    reviewable = groups_where(user, Capability.REVIEW_APPLICATIONS).filter(community_id=application.community_id)
    return (
        Application.objects.filter(group__in=reviewable)
        .filter(same)
        .exclude(pk=application.pk)
        .select_related("group")
        .order_by("-submitted_at")
    )


def pending_count(user, *, community: Community) -> int:
    return application_queue(user, community=community).count()


# --- Invitations and live codes -------------------------------------------------------------


def invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("group", "group__community", "application", "member")
        .filter(token=token)
        .first()
    )
    if invitation is None:
        raise Http404
    return invitation


def livecodes_for_user(user, *, community: Community) -> QuerySet[LiveCode]:
    visible = groups_where(user, Capability.VIEW).filter(community=community)
    return LiveCode.objects.filter(community=community, parent__in=visible).select_related("parent").order_by("name")


def livecode_for_user(user, *, community: Community, pk: int) -> LiveCode:
    try:
        return livecodes_for_user(user, community=community).get(pk=pk)
    except (LiveCode.DoesNotExist, ValueError):
        raise Http404 from None


@dataclass(frozen=True)
class PoolRow:
    group: Group
    joins: int
    limit: int | None
    routing: bool


def livecode_pool(code: LiveCode) -> list[PoolRow]:
    from members.services.livecodes import seat_limit

    entries = LiveCodeGroup.objects.filter(code=code).select_related("group").order_by("position", "pk")
    joins = dict(
        Membership.objects.filter(live_code=code)
        .order_by()
        .values("group_id")
        .annotate(n=Count("pk"))
        .values_list("group_id", "n")
    )
    rows = []
    routing_found = False
    for entry in entries:
        group = entry.group
        limit = seat_limit(code, group)
        has_room = not group.is_archived and group.member_count < min(group.capacity, limit or group.capacity)
        rows.append(PoolRow(group, joins.get(group.pk, 0), limit, has_room and not routing_found))
        routing_found = routing_found or has_room
    return rows


def community_for_api(user, raw) -> Community:
    """A community the user sees some group of, from a query or body value (an id): a 400 for
    something that isn't an id, a 404 for one they may not see."""
    if not str(raw or "").isdigit() or len(str(raw)) > 18:
        raise ApplicationError(_("Give the community's id."), field="community")
    community = Community.objects.select_related("hub").filter(pk=int(raw)).first()
    if community is None or not groups_where(user, Capability.VIEW).filter(community=community).exists():
        raise Http404
    return community


def member_named(*, community: Community, member: int | None = None, platform: str = "", user_id: str = ""):
    """The member a bot names: by Canopy's id, or by the platform account it knows them by.
    None when there is no such member in the community; naming nobody is a 400."""
    from members.services.people import member_by_handle

    if member:
        return Member.objects.filter(community=community, pk=member).first()
    if platform and user_id:
        return member_by_handle(community=community, platform=platform, external_id=user_id)
    raise ApplicationError(_("Name the member: member, or platform and user_id."), field="member")
