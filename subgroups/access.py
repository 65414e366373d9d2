"""Who may see and change which part of the tree.

The tree knows no people, so it does not answer this itself: it asks the access policy named
by ``settings.CANOPY_ACCESS_POLICY``, which a higher layer (``members``) provides. Pages, the
API and the admin all go through this one door.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from subgroups.models import Community, Group


class Capability:
    """What a user may do on a group (and, by inheritance, on its whole subtree). Which roles
    grant which capabilities is the access policy's business (``members.permissions``)."""

    VIEW = "view"
    REVIEW_APPLICATIONS = "review_applications"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_TREE = "manage_tree"
    MANAGE_CONTENT = "manage_content"
    SEE_PERSONAL_DATA = "see_personal_data"
    RUN_RECALL = "run_recall"

    ALL = (VIEW, REVIEW_APPLICATIONS, MANAGE_MEMBERS, MANAGE_TREE, MANAGE_CONTENT, SEE_PERSONAL_DATA, RUN_RECALL)


class AccessPolicy(Protocol):
    def visible_communities(self, user) -> QuerySet[Community]: ...

    def visible_groups(self, user) -> QuerySet[Group]: ...

    def groups_with(self, user, capability: str) -> QuerySet[Group]:
        """Every group on which the user has the capability."""

    def has_capability(self, user, capability: str, group: Group) -> bool: ...

    def can_create_community(self, user) -> bool: ...

    def community_created(self, user, community: Community) -> None:
        """Give the creator of a new community what they need to run it."""


@cache
def _policy_for(path: str) -> AccessPolicy:
    return import_string(path)()


def policy() -> AccessPolicy:
    return _policy_for(settings.CANOPY_ACCESS_POLICY)
