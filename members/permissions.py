"""Who may do what: the one permission module that pages, the API and the admin all use.

A user acts through their ``Member`` in a community. A role held on a group (an active
membership) grants its capabilities on that group and on its whole subtree, nothing else.
Superusers may do everything. The tree asks through ``subgroups.access``; this module answers.

A request made with an integration key (``outbox.keys``) acts as the integration's service
account: it has every capability but personal data, on every group of the key's community and
nowhere else, and no owner's rights. Which operations it may call is its scopes' business
(``outbox.auth.KeyScopes``).

| capability            | owner | core admin | admin | guide | member |
|-----------------------|:-----:|:----------:|:-----:|:-----:|:------:|
| view                  |   ✓   |     ✓      |   ✓   |   ✓   |        |
| review applications   |   ✓   |     ✓      |   ✓   |   ✓   |        |
| manage members        |   ✓   |     ✓      |   ✓   |       |        |
| manage tree           |   ✓   |     ✓      |       |       |        |
| manage content        |   ✓   |     ✓      |   ✓   |       |        |
| run recall            |   ✓   |     ✓      |       |       |        |
| see personal data     |   ✓   |            |       |       |        |
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet

from members.models import Member, Membership, MembershipStatus, Role
from outbox.keys import key_of
from subgroups.access import Capability
from subgroups.models import Community, Group

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Capability.ALL),
    Role.CORE_ADMIN: frozenset(
        {
            Capability.VIEW,
            Capability.REVIEW_APPLICATIONS,
            Capability.MANAGE_MEMBERS,
            Capability.MANAGE_TREE,
            Capability.MANAGE_CONTENT,
            Capability.RUN_RECALL,
        }
    ),
    Role.ADMIN: frozenset(
        {Capability.VIEW, Capability.REVIEW_APPLICATIONS, Capability.MANAGE_MEMBERS, Capability.MANAGE_CONTENT}
    ),
    Role.GUIDE: frozenset({Capability.VIEW, Capability.REVIEW_APPLICATIONS}),
    Role.MEMBER: frozenset(),
}


KEY_CAPABILITIES = frozenset(Capability.ALL) - {Capability.SEE_PERSONAL_DATA}


def roles_with(capability: str) -> list[str]:
    return [role for role, capabilities in ROLE_CAPABILITIES.items() if capability in capabilities]


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _grants(user, capability: str) -> QuerySet[Membership]:
    """The user's active memberships whose role grants ``capability``."""
    return Membership.objects.filter(member__user=user, status=MembershipStatus.ACTIVE, role__in=roles_with(capability))


def _subtrees(grants) -> Q:
    """The groups inside any of the granting groups (each a whole subtree)."""
    return reduce(
        or_,
        (
            Q(community_id=group.community_id, tree_id=group.tree_id, lft__gte=group.lft, rght__lte=group.rght)
            for group in grants
        ),
        Q(pk__in=[]),
    )


def groups_where(user, capability: str) -> QuerySet[Group]:
    """Every group on which the user has ``capability``."""
    if not _active(user):
        return Group.objects.none()
    if user.is_superuser:
        return Group.objects.all()
    key = key_of(user)
    if key is not None:
        if capability not in KEY_CAPABILITIES:
            return Group.objects.none()
        return Group.objects.filter(community_id=key.integration.community_id)
    granting = Group.objects.filter(pk__in=_grants(user, capability).values("group_id")).only(
        "community_id", "tree_id", "lft", "rght"
    )
    return Group.objects.filter(_subtrees(granting))


def can(user, capability: str, group: Group) -> bool:
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    key = key_of(user)
    if key is not None:
        return capability in KEY_CAPABILITIES and group.community_id == key.integration.community_id
    return (
        _grants(user, capability)
        .filter(
            group__community_id=group.community_id,
            group__tree_id=group.tree_id,
            group__lft__lte=group.lft,
            group__rght__gte=group.rght,
        )
        .exists()
    )


def grantable_roles(user, group: Group) -> list[str]:
    """Roles the user may give on this group: members, guides and admins with the manage-members
    capability; core admins and owners only as an owner (or superuser)."""
    if not can(user, Capability.MANAGE_MEMBERS, group):
        return []
    roles = [Role.MEMBER, Role.GUIDE, Role.ADMIN]
    if user.is_superuser or _owner_of(user, group):
        roles += [Role.CORE_ADMIN, Role.OWNER]
    return roles


def can_final_review(user, group: Group) -> bool:
    """Final review of posts (群主终审) is an owner's: an owner role on the group or above it."""
    return _active(user) and (user.is_superuser or _owner_of(user, group))


def groups_owned(user) -> QuerySet[Group]:
    """Groups on which the user holds the owner role, with their subtrees."""
    if not _active(user):
        return Group.objects.none()
    if user.is_superuser:
        return Group.objects.all()
    owning = Group.objects.filter(
        pk__in=Membership.objects.filter(member__user=user, status=MembershipStatus.ACTIVE, role=Role.OWNER).values(
            "group_id"
        )
    ).only("community_id", "tree_id", "lft", "rght")
    return Group.objects.filter(_subtrees(owning))


def roles_offered(user, community: Community) -> list[str]:
    """The roles worth offering in a form: those the user may give on some group."""
    if not groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community).exists():
        return []
    roles = [Role.MEMBER, Role.GUIDE, Role.ADMIN]
    owner_somewhere = Membership.objects.filter(
        member__user=user, status=MembershipStatus.ACTIVE, role=Role.OWNER, group__community=community
    ).exists()
    if user.is_superuser or owner_somewhere:
        roles += [Role.CORE_ADMIN, Role.OWNER]
    return roles


def _owner_of(user, group: Group) -> bool:
    return Membership.objects.filter(
        member__user=user,
        status=MembershipStatus.ACTIVE,
        role=Role.OWNER,
        group__community_id=group.community_id,
        group__tree_id=group.tree_id,
        group__lft__lte=group.lft,
        group__rght__gte=group.rght,
    ).exists()


def can_change_role(user, *, member: Member, group: Group, role: str) -> bool:
    """May the user put ``member`` in ``group`` with ``role``? Both the role they would get and
    the role they hold there now must be the user's to give: an admin cannot demote an owner."""
    allowed = grantable_roles(user, group)
    if role not in allowed:
        return False
    current = Membership.objects.filter(member=member, group=group, status=MembershipStatus.ACTIVE).first()
    return current is None or current.role in allowed


def can_end_membership(user, membership: Membership) -> bool:
    return membership.role in grantable_roles(user, membership.group)


def can_edit_member(user, member: Member) -> bool:
    """Manage-members on the hub, or on a group the member is active in."""
    hub = member.community.hub
    if hub is not None and can(user, Capability.MANAGE_MEMBERS, hub):
        return True
    return any(
        can(user, Capability.MANAGE_MEMBERS, membership.group)
        for membership in member.memberships.filter(status=MembershipStatus.ACTIVE).select_related("group")
    )


def can_edit_standing(user, community: Community) -> bool:
    """Purchases and annual membership decide tier groups across the community: only those who
    manage members community-wide (on the hub) change them."""
    return community.hub_id is not None and can(user, Capability.MANAGE_MEMBERS, community.hub)


def can_see_personal_data(user, community: Community) -> bool:
    """Phone numbers and e-mail addresses are the community owners' to see (and superusers')."""
    return community.hub_id is not None and can(user, Capability.SEE_PERSONAL_DATA, community.hub)


def member_for(user, community: Community) -> Member | None:
    if not _active(user):
        return None
    return Member.objects.filter(community=community, user=user).first()


class RoleAccessPolicy:
    """The access policy the tree asks (``settings.CANOPY_ACCESS_POLICY``)."""

    def visible_communities(self, user) -> QuerySet[Community]:
        if not _active(user):
            return Community.objects.none()
        if user.is_superuser:
            return Community.objects.all()
        key = key_of(user)
        if key is not None:
            return Community.objects.filter(pk=key.integration.community_id)
        return Community.objects.filter(pk__in=_grants(user, Capability.VIEW).values("group__community_id"))

    def visible_groups(self, user) -> QuerySet[Group]:
        return groups_where(user, Capability.VIEW)

    def groups_with(self, user, capability: str) -> QuerySet[Group]:
        return groups_where(user, capability)

    def has_capability(self, user, capability: str, group: Group) -> bool:
        return can(user, capability, group)

    def can_create_community(self, user) -> bool:
        return _active(user)

    def community_created(self, user, community: Community) -> None:
        """The creator owns the new community (群主 of its hub)."""
        if _active(user):
            from members.services import owner_add

            owner_add(community=community, user=user)
