"""Reads about content, scoped to what the user may see or do."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from content.models import (
    AutoReply,
    Digest,
    FlagStatus,
    MemberFlag,
    ModerationFlag,
    Post,
    PostStatus,
    Schedule,
)
from members.permissions import can, groups_owned, groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community).order_by("tree_id", "lft")


def content_groups(user, community: Community) -> QuerySet[Group]:
    """Groups whose content the user manages (first review, calendar, auto-replies)."""
    return groups_where(user, Capability.MANAGE_CONTENT).filter(community=community).order_by("tree_id", "lft")


def first_review_queue(user, *, community: Community, group: Group | None = None) -> QuerySet[Post]:
    posts = Post.objects.filter(group__in=content_groups(user, community), status=PostStatus.FIRST_REVIEW)
    if group is not None:
        posts = posts.filter(group=group)
    return posts.select_related("group", "author").order_by("created_at", "pk")


def final_review_queue(user, *, community: Community, group: Group | None = None) -> QuerySet[Post]:
    owned = groups_owned(user).filter(community=community)
    posts = Post.objects.filter(group__in=owned, status=PostStatus.FINAL_REVIEW)
    if group is not None:
        posts = posts.filter(group=group)
    return posts.select_related("group", "author").order_by("created_at", "pk")


def posts_for_user(user, *, community: Community, status: str = "", group: Group | None = None) -> QuerySet[Post]:
    posts = Post.objects.filter(group__in=visible_groups(user, community))
    if status:
        posts = posts.filter(status=status)
    if group is not None:
        posts = posts.filter(group=group)
    return posts.select_related("group", "author").order_by("-created_at", "-pk")


def post_for_user(user, *, community: Community, pk: int) -> Post:
    try:
        return posts_for_user(user, community=community).get(pk=pk)
    except (Post.DoesNotExist, ValueError):
        raise Http404 from None


def open_flags(user, *, community: Community) -> tuple[QuerySet[ModerationFlag], QuerySet[MemberFlag]]:
    groups = content_groups(user, community)
    chat = ModerationFlag.objects.filter(group__in=groups, status=FlagStatus.OPEN).select_related("group", "author")
    members = MemberFlag.objects.filter(group__in=groups, status=FlagStatus.OPEN).select_related("group", "member")
    return chat.order_by("created_at"), members.order_by("created_at")


def digests_for(user, community: Community) -> QuerySet[Digest]:
    if not (community.hub_id and can(user, Capability.VIEW, community.hub)):
        return Digest.objects.none()
    return Digest.objects.filter(community=community).prefetch_related("posts__group").order_by("-period_start")


def schedules_for(user, community: Community) -> QuerySet[Schedule]:
    return (
        Schedule.objects.filter(group__in=visible_groups(user, community))
        .select_related("group")
        .order_by("time", "pk")
    )


def auto_replies_for(user, community: Community, group: Group | None = None) -> QuerySet[AutoReply]:
    rules = AutoReply.objects.filter(group__in=visible_groups(user, community))
    if group is not None:
        rules = rules.filter(group=group)
    return rules.select_related("group").order_by("group__tree_id", "group__lft", "-priority", "pk")
