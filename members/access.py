"""The access policy the tree asks (see ``subgroups.access``).

Temporary rule until roles arrive: superusers see and manage everything; any other active user
sees and manages the communities they are linked to as an operator, and nothing else.
"""

from __future__ import annotations

from django.db.models import QuerySet

from members.models import Operator
from members.services import operator_add
from subgroups.models import Community, Group


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


class OperatorAccessPolicy:
    def visible_communities(self, user) -> QuerySet[Community]:
        if not _active(user):
            return Community.objects.none()
        if user.is_superuser:
            return Community.objects.all()
        return Community.objects.filter(operators__user=user)

    def visible_groups(self, user) -> QuerySet[Group]:
        if _active(user) and user.is_superuser:
            return Group.objects.all()
        return Group.objects.filter(community__in=self.visible_communities(user).values("pk"))

    def has_capability(self, user, capability: str, group: Group) -> bool:
        if not _active(user):
            return False
        if user.is_superuser:
            return True
        return Operator.objects.filter(user=user, community_id=group.community_id).exists()

    def can_create_community(self, user) -> bool:
        return _active(user)

    def community_created(self, user, community: Community) -> None:
        if _active(user) and not user.is_superuser:
            operator_add(community=community, user=user)
