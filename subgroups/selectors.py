"""Reads of the community tree, always scoped to what the user may see."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet, Sum
from django.http import Http404

from subgroups.access import Capability, policy
from subgroups.models import Community, Group, GroupKind, GroupStatus
from subgroups.rules import describe_admission_criteria

# --- Scoping --------------------------------------------------------------------------------


def communities_for_user(user) -> QuerySet[Community]:
    return policy().visible_communities(user).select_related("hub").order_by("hub__name", "pk")


def groups_for_user(user, *, community: Community | None = None) -> QuerySet[Group]:
    groups = policy().visible_groups(user).select_related("community", "parent")
    if community is not None:
        groups = groups.filter(community=community)
    return groups


def groups_user_can(user, capability: str, *, community: Community) -> QuerySet[Group]:
    return policy().groups_with(user, capability).filter(community=community).order_by("tree_id", "lft")


def community_for_user(user, *, slug: str) -> Community:
    """The community, or 404 for anyone who may not see it."""
    try:
        return communities_for_user(user).get(slug=slug)
    except Community.DoesNotExist:
        raise Http404 from None


def group_for_user(user, *, community: Community, pk: int) -> Group:
    try:
        return groups_for_user(user, community=community).get(pk=pk)
    except (Group.DoesNotExist, ValueError):
        raise Http404 from None


def user_can(user, capability: str, group: Group) -> bool:
    return policy().has_capability(user, capability, group)


def user_can_manage_tree(user, community: Community) -> bool:
    return community.hub_id is not None and user_can(user, Capability.MANAGE_TREE, community.hub)


# --- Tree shapes ----------------------------------------------------------------------------


def subtree(group: Group) -> list[Group]:
    """The group and all its descendants in tree order, in one query."""
    return list(group.get_descendants(include_self=True).select_related("community"))


def visible_tree(user, community: Community) -> QuerySet[Group]:
    """The groups of the community the user may see, in tree order. A sub-group admin sees
    their subtree(s) only; each shows as its own top."""
    return groups_for_user(user, community=community).order_by("tree_id", "lft")


def nest(nodes: list[Group]) -> list[dict[str, Any]]:
    """Nested dicts, one per node, children in tree order. ``nodes`` must be in tree order."""
    by_parent: dict[int | None, list[Group]] = defaultdict(list)
    ids = {node.pk for node in nodes}
    for node in nodes:
        by_parent[node.parent_id if node.parent_id in ids else None].append(node)

    def build(node: Group) -> dict[str, Any]:
        return {
            "id": node.pk,
            "name": node.name,
            "slug": node.slug,
            "kind": node.kind,
            "platform": node.platform,
            "capacity": node.capacity,
            "member_count": node.member_count,
            "status": node.status,
            "children": [build(child) for child in by_parent[node.pk]],
        }

    return [build(root) for root in by_parent[None]]


def _mermaid_text(text: str) -> str:
    # Mermaid reads entity codes inside quoted labels; this keeps quotes and markup inert.
    for char, entity in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, entity)
    return text.replace("\n", " ")


def mermaid(nodes: list[Group]) -> str:
    """A Mermaid ``graph TD`` of the nodes (in tree order), like the source article's diagram."""
    lines = ["graph TD"]
    ids = {node.pk for node in nodes}
    for node in nodes:
        details = f"{GroupKind(node.kind).label} · {node.member_count}/{node.capacity}"
        label = f"{_mermaid_text(node.name)}<br/>{_mermaid_text(details)}"
        shape = f'["{label}"]' if node.kind == GroupKind.HUB else f'("{label}")'
        if node.parent_id in ids:
            lines.append(f"    g{node.parent_id} --> g{node.pk}{shape}")
        else:
            lines.append(f"    g{node.pk}{shape}")
    archived = [f"g{node.pk}" for node in nodes if node.status == GroupStatus.ARCHIVED]
    full = [f"g{node.pk}" for node in nodes if node.status == GroupStatus.FULL]
    if archived:
        lines.append("    classDef archived stroke-dasharray: 5 5,color:#888")
        lines.append(f"    class {','.join(archived)} archived")
    if full:
        lines.append("    classDef full stroke:#c0392b,stroke-width:2px")
        lines.append(f"    class {','.join(full)} full")
    return "\n".join(lines) + "\n"


def join_link_stale(group: Group) -> bool:
    """A WeChat group QR code expires after 7 days; flag join links older than that."""
    from datetime import timedelta

    from django.utils import timezone

    from subgroups.models import WECHAT_QR_LIFETIME_DAYS, Platform

    return (
        group.platform == Platform.WECHAT
        and group.join_link_updated_at is not None
        and timezone.now() - group.join_link_updated_at > timedelta(days=WECHAT_QR_LIFETIME_DAYS)
    )


def fresh_join_link(group: Group) -> str:
    """The group's join link, unless it is a WeChat QR code old enough to have expired."""
    return "" if join_link_stale(group) else group.join_link


def criteria_phrases(group: Group) -> list[str]:
    return describe_admission_criteria(group.admission_criteria or {})


# --- Overview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityStats:
    groups: int
    open: int
    full: int
    archived: int
    members: int
    capacity: int
    by_kind: dict[str, int]

    @property
    def fill_percent(self) -> int:
        return round(100 * self.members / self.capacity) if self.capacity else 0


def community_stats(groups: QuerySet[Group]) -> CommunityStats:
    """Counts over the sub-groups among ``groups`` (the hub is reported on its own)."""
    subgroups = groups.exclude(kind=GroupKind.HUB)
    live = ~Q(status=GroupStatus.ARCHIVED)
    totals = subgroups.aggregate(
        groups=Count("pk", filter=live),
        open=Count("pk", filter=Q(status=GroupStatus.OPEN)),
        full=Count("pk", filter=Q(status=GroupStatus.FULL)),
        archived=Count("pk", filter=Q(status=GroupStatus.ARCHIVED)),
        members=Sum("member_count", filter=live),
        capacity=Sum("capacity", filter=live),
    )
    # order_by() drops mptt's default (tree_id, lft) ordering, which would split the GROUP BY.
    by_kind = dict(
        subgroups.filter(live).order_by("kind").values("kind").annotate(n=Count("pk")).values_list("kind", "n")
    )
    return CommunityStats(
        groups=totals["groups"],
        open=totals["open"],
        full=totals["full"],
        archived=totals["archived"],
        members=totals["members"] or 0,
        capacity=totals["capacity"] or 0,
        by_kind=by_kind,
    )


def groups_by_fill(groups: QuerySet[Group], *, limit: int = 8) -> list[Group]:
    """Open or full sub-groups, fullest first: the ones that need a new sibling soon."""
    fill = ExpressionWrapper(F("member_count") * 1.0 / F("capacity"), output_field=FloatField())
    return list(
        groups.exclude(kind=GroupKind.HUB)
        .exclude(status=GroupStatus.ARCHIVED)
        .annotate(fill=fill)
        .order_by("-fill", "name")[:limit]
    )


def groups_over_capacity(groups: QuerySet[Group]) -> QuerySet[Group]:
    """Groups the platform reports fuller than their capacity (a join Canopy could not refuse):
    they need a new sibling or a higher capacity. Longest over first."""
    return groups.filter(over_capacity_since__isnull=False).order_by("over_capacity_since", "pk")


# --- Integrity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeProblem:
    community_id: int
    group_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"group {self.group_id}" if self.group_id else "tree"
        return f"community {self.community_id}, {where}: {self.message}"


def tree_problems(*, community_ids: list[int] | None = None) -> list[TreeProblem]:
    """Compare mptt's stored intervals with what the parent links say they should be."""
    rows = Group.objects.order_by("community_id", "lft").values_list(
        "pk", "community_id", "parent_id", "tree_id", "lft", "rght", "level"
    )
    if community_ids is not None:
        rows = rows.filter(community_id__in=community_ids)
    nodes_by_community: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        nodes_by_community[row[1]].append(row)

    problems: list[TreeProblem] = []
    for community_id, nodes in nodes_by_community.items():
        problems.extend(_community_tree_problems(community_id, nodes))

    # Two communities sharing a tree_id corrupt each other on the next write.
    shared = (
        Group.objects.filter(parent__isnull=True)
        .order_by()
        .values("tree_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("tree_id", flat=True)
    )
    for tree_id in shared:
        for community_id in Group.objects.filter(parent__isnull=True, tree_id=tree_id).values_list(
            "community_id", flat=True
        ):
            if community_ids is None or community_id in community_ids:
                problems.append(TreeProblem(community_id, None, f"tree_id {tree_id} is shared with another tree"))
    return problems


def _community_tree_problems(community_id: int, nodes: list[tuple]) -> list[TreeProblem]:
    problems: list[TreeProblem] = []
    by_id = {node[0]: node for node in nodes}
    children: dict[int, list[tuple]] = defaultdict(list)
    roots = []
    for node in nodes:
        pk, _community, parent_id = node[0], node[1], node[2]
        if parent_id is None:
            roots.append(node)
        elif parent_id not in by_id:
            problems.append(TreeProblem(community_id, pk, f"parent {parent_id} is in another community"))
        else:
            children[parent_id].append(node)
    if len(roots) != 1:
        problems.append(TreeProblem(community_id, None, f"{len(roots)} roots instead of one hub"))
        return problems

    root = roots[0]
    tree_id = root[3]
    expected: dict[int, tuple[int, int, int]] = {}

    def walk(node: tuple, left: int, level: int) -> int:
        right = left + 1
        for child in children[node[0]]:  # already in stored lft order
            right = walk(child, right, level + 1) + 1
        expected[node[0]] = (left, right, level)
        return right

    walk(root, 1, 0)
    for node in nodes:
        pk, stored = node[0], (node[4], node[5], node[6])
        if pk not in expected:
            problems.append(TreeProblem(community_id, pk, "not reachable from the hub"))
            continue
        if node[3] != tree_id:
            problems.append(TreeProblem(community_id, pk, f"tree_id {node[3]} differs from the hub's {tree_id}"))
        if stored != expected[pk]:
            problems.append(
                TreeProblem(
                    community_id,
                    pk,
                    f"lft/rght/level {stored} should be {expected[pk]} by the parent links",
                )
            )
    return problems
