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
    """What a user may do on a group (and, by inheritance, on its whole subtree)."""

    VIEW = "view"
    MANAGE_TREE = "manage_tree"


class AccessPolicy(Protocol):
    def visible_communities(self, user) -> QuerySet[Community]: ...

    def visible_groups(self, user) -> QuerySet[Group]: ...

    def has_capability(self, user, capability: str, group: Group) -> bool: ...

    def can_create_community(self, user) -> bool: ...

    def community_created(self, user, community: Community) -> None:
        """Give the creator of a new community what they need to run it."""


@cache
def _policy_for(path: str) -> AccessPolicy:
    return import_string(path)()


def policy() -> AccessPolicy:
    return _policy_for(settings.CANOPY_ACCESS_POLICY)
