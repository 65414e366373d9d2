"""The content cycle (内容循环): featured posts from the sub-groups become a digest for the hub."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from content.models import Digest, DigestStatus, Post, PostKind, PostSource, PostStatus
from content.services.posts import post_submit
from core.errors import ApplicationError
from core.text import has_invalid_characters, has_invalid_multiline_characters
from subgroups.locale import member_locale
from subgroups.models import Community, GroupKind


def _bounds(community: Community, start: date, end: date) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(community.time_zone)
    return datetime.combine(start, time.min, zone), datetime.combine(end, time.min, zone)


@transaction.atomic
def digest_draft(*, community: Community, period_start: date, period_end: date) -> Digest | None:
    """Draft the digest of [period_start, period_end): the featured posts published in the
    sub-groups and not yet in a digest. None when there are none. Drafting the same period
    twice returns the first draft. Drafts of one community are made one at a time (a lock on
    its row), so two overlapping drafts never both collect a post."""
    Community.objects.select_for_update().filter(pk=community.pk).first()
    existing = Digest.objects.filter(community=community, period_start=period_start).first()
    if existing is not None:
        return existing
    since, until = _bounds(community, period_start, period_end)
    posts = list(
        Post.objects.filter(
            community=community,
            status=PostStatus.PUBLISHED,
            featured=True,
            published_at__gte=since,
            published_at__lt=until,
        )
        .exclude(group__kind=GroupKind.HUB)
        .exclude(digests__isnull=False)
        .exclude(kind=PostKind.DIGEST)
        .select_related("group", "author")
        .order_by("group__lft", "published_at")
    )
    if not posts:
        return None
    with member_locale(community):  # the hub's members read it, whoever or whatever drafts it
        lines = [_("This week's best from our groups:"), ""]
        for post in posts:
            excerpt = " ".join(post.body.split())[:80]
            lines.append(f"- **{post.title}** ({post.group.name}) — {excerpt}")
        title = _("Digest %(start)s – %(end)s") % {
            "start": period_start.strftime("%m/%d"),
            "end": (period_end - timedelta(days=1)).strftime("%m/%d"),
        }
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                community=community,
                period_start=period_start,
                period_end=period_end,
                title=title,
                body="\n".join(lines),
            )
            digest.posts.set(posts)
    except IntegrityError:
        return Digest.objects.get(community=community, period_start=period_start)
    return digest


def digests_draft_last_week(*, now: datetime | None = None) -> int:
    """The beat task: each community's last Monday-to-Sunday, in its own time zone (idempotent:
    a week already drafted is left as it is)."""
    now = now or timezone.now()
    drafted = 0
    for community in Community.objects.exclude(hub=None):
        today = timezone.localdate(now, timezone=zoneinfo.ZoneInfo(community.time_zone))
        start = today - timedelta(days=today.weekday() + 7)
        digest = digest_draft(community=community, period_start=start, period_end=start + timedelta(days=7))
        drafted += digest is not None
    return drafted


@transaction.atomic
def digest_update(*, digest: Digest, title: str, body: str) -> Digest:
    digest = Digest.objects.select_for_update().get(pk=digest.pk)
    if digest.status != DigestStatus.DRAFT:
        raise ApplicationError(_("A published digest is not edited."))
    title = " ".join((title or "").split())
    if not title or len(title) > 200 or has_invalid_characters(title):
        raise ApplicationError(_("A title is 1 to 200 printable characters."), field="title")
    body = (body or "").strip()
    if not body or len(body) > 20_000 or has_invalid_multiline_characters(body):
        raise ApplicationError(_("The digest needs a body of at most 20,000 characters."), field="body")
    digest.title, digest.body = title, body
    digest.save(update_fields=["title", "body"])
    return digest


@transaction.atomic
def digest_publish(*, digest: Digest, by) -> Post:
    """Publish to the hub (主群展示): a digest post, pushed through the outbox."""
    claimed = Digest.objects.filter(pk=digest.pk, status=DigestStatus.DRAFT).update(
        status=DigestStatus.PUBLISHED, published_at=timezone.now(), published_by=by
    )
    if claimed != 1:
        raise ApplicationError(_("This digest is already published."))
    digest.refresh_from_db()
    post = post_submit(
        group=digest.community.hub,
        author=None,
        kind=PostKind.DIGEST,
        title=digest.title,
        body=digest.body,
        source=PostSource.DIGEST,
        by=by,
    )
    if post.status != PostStatus.PUBLISHED:  # the word check held it: publish nothing
        words = "、".join(sorted({hit["word"] for hit in post.word_hits}))
        raise ApplicationError(
            _("The word check held the digest back (%(words)s). Edit it and publish again.") % {"words": words},
            field="body",
        )
    Digest.objects.filter(pk=digest.pk).update(published_post=post)
    return post
