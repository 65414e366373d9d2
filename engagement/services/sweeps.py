"""Sweeps that pay points for what happened elsewhere: published and featured posts, and
check-ins that bots sent as activity events. Beat runs them every few minutes for every
community; each is set-based and idempotent (every payment is keyed), so running one twice,
or two at once, pays nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from content.models import Post, PostStatus
from engagement.services.checkins import checkins_from_events
from engagement.services.points import points_grant_many, points_rules
from members.models import PointsEntry
from subgroups.models import Community


@dataclass(frozen=True)
class PostPoints:
    posts: int = 0
    featured: int = 0


def _unpaid(posts, prefix: str):
    key = Concat(Value(prefix), Cast(OuterRef("pk"), CharField()), output_field=CharField())
    return posts.filter(~Exists(PointsEntry.objects.filter(key=key)))


def points_for_posts(community: Community) -> PostPoints:
    """``post`` points for each published post with an author (key ``post:<id>``), and
    ``featured_post`` for each featured one (``featured:<id>``), dated when it was published."""
    rules = points_rules(community=community)
    published = Post.objects.filter(community=community, status=PostStatus.PUBLISHED, author__isnull=False)
    posts = featured = 0
    if rules.post:
        rows = [
            (author_id, rules.post, f"post:{pk}", published_at, title)
            for pk, author_id, published_at, title in _unpaid(published, "post:").values_list(
                "pk", "author_id", "published_at", "title"
            )
        ]
        posts = points_grant_many(community=community, reason="post", rows=rows)
    if rules.featured_post:
        rows = [
            (author_id, rules.featured_post, f"featured:{pk}", published_at, title)
            for pk, author_id, published_at, title in _unpaid(published.filter(featured=True), "featured:").values_list(
                "pk", "author_id", "published_at", "title"
            )
        ]
        featured = points_grant_many(community=community, reason="featured_post", rows=rows)
    return PostPoints(posts=posts, featured=featured)


def sweeps_run(community: Community, *, since: datetime | None = None) -> dict[str, int]:
    """Both sweeps for one community. ``since`` limits the events looked at to those received
    since then (beat looks back two days; a manual run looks at all)."""
    check_ins = checkins_from_events(community, since=since)
    posts = points_for_posts(community)
    return {
        "check_ins": check_ins.check_ins,
        "check_in_points": check_ins.points,
        "streak_bonuses": check_ins.bonuses,
        "posts": posts.posts,
        "featured": posts.featured,
    }
