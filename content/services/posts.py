"""Posts and their way to publication: the word check, a first review by an admin, a final
review by an owner, and what publishing sets off (the push, mirrored announcements)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import markdown
import nh3
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from content.models import (
    AuthorWarning,
    ContentSettings,
    MemberFlag,
    Post,
    PostKind,
    PostSource,
    PostStatus,
    ReviewDecision,
    ReviewStage,
    ReviewStep,
    WordAction,
)
from content.services.lexicon import text_scan
from content.words import Hit, strongest
from core.errors import ApplicationError
from core.text import has_invalid_characters, has_invalid_multiline_characters
from members.models import Member, MembershipStatus
from outbox.models import MessageKind
from outbox.services import message_enqueue
from subgroups.locale import member_locale
from subgroups.models import Group, GroupKind, GroupStatus

MEMBER_KINDS = (PostKind.KNOWLEDGE, PostKind.NEWS, PostKind.TOPIC, PostKind.FUN, PostKind.EMOTIONAL)
WARNINGS_BEFORE_FLAG = 3
WARNING_WINDOW = timedelta(days=30)

_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "del",
    "blockquote",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


class _ImagesAsLinks(Treeprocessor):
    """An image in a post becomes a link to it: a reviewer's browser loading an author's image
    from the author's server would tell them who looked, and when."""

    def run(self, root):
        for image in list(root.iter("img")):
            source, alt = image.get("src", ""), image.get("alt", "")
            image.attrib.clear()
            image.tag = "a"
            image.set("href", source)
            shown = source if source.startswith(("http://", "https://")) else "image"
            image.text = "🖼 " + (alt or shown)


class _ImagesAsLinksExtension(Extension):
    def extendMarkdown(self, md):
        md.treeprocessors.register(_ImagesAsLinks(md), "canopy-images-as-links", 0)


def render_markdown(body: str) -> str:
    """Markdown to HTML, then through nh3: no scripts, no event handlers, no javascript: links,
    whatever the author typed."""
    html = markdown.markdown(
        body, extensions=["extra", "sane_lists", "nl2br", _ImagesAsLinksExtension()], output_format="html"
    )
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _clean(title: str, body: str, kind: str, *, allowed_kinds) -> tuple[str, str, str]:
    title = " ".join((title or "").split())
    if not title or len(title) > 200 or has_invalid_characters(title):
        raise ApplicationError(_("A title is 1 to 200 printable characters."), field="title")
    body = (body or "").strip()
    if not body or len(body) > 20_000 or has_invalid_multiline_characters(body):
        raise ApplicationError(_("The post needs a body of at most 20,000 printable characters."), field="body")
    if kind not in allowed_kinds:
        raise ApplicationError(
            _("Choose a kind: %(kinds)s.") % {"kinds": ", ".join(str(kind) for kind in allowed_kinds)}, field="kind"
        )
    return title, body, kind


def _hits_json(hits: list[Hit], field: str = "") -> list[dict]:
    """Hits as stored; ``field`` says which text a span is in (a post's title or body)."""
    return [
        {
            "word": hit.word,
            "category": hit.category,
            "action": hit.action,
            "start": hit.start,
            "end": hit.end,
            "matched": hit.matched,
            **({"field": field} if field else {}),
        }
        for hit in hits
    ]


def _step(post: Post, stage: str, decision: str, *, by=None, note: str = "") -> None:
    ReviewStep.objects.create(post=post, stage=stage, decision=decision, by=by, note=note[:2000])


def skips_review(group: Group) -> bool:
    return ContentSettings.objects.filter(group=group, skip_review=True).exists()


@transaction.atomic
def warning_record(*, member: Member, group: Group, words: list[str], post: Post | None = None) -> AuthorWarning:
    """Warn the author; a third warning within 30 days flags them for the admins. The member's
    row is locked first, so warnings arriving at once are counted one after another."""
    Member.objects.select_for_update().filter(pk=member.pk).first()
    warning = AuthorWarning.objects.create(member=member, group=group, post=post, words=words)
    recent = AuthorWarning.objects.filter(member=member, at__gte=timezone.now() - WARNING_WINDOW).count()
    if recent >= WARNINGS_BEFORE_FLAG:
        MemberFlag.objects.get_or_create(
            member=member,
            group=group,
            status="open",
            defaults={"reason": _("%(count)d warnings for uncivil words in 30 days.") % {"count": recent}},
        )
    return warning


@transaction.atomic
def post_submit(
    *,
    group: Group,
    author: Member | None,
    kind: str,
    title: str,
    body: str,
    source: str = PostSource.MEMBER,
    by=None,
) -> Post:
    """A post enters the pipeline. The word check decides first: block rejects it, review
    sends it to review even in groups that skip review, warn lets it go on and warns the
    author. Staff, the calendar and digests may post announcements and digests too."""
    group = Group.objects.select_related("community").get(pk=group.pk)
    if group.status == GroupStatus.ARCHIVED:
        raise ApplicationError(_("“%(group)s” is archived.") % {"group": group.name}, field="group")
    allowed = MEMBER_KINDS if source == PostSource.MEMBER else PostKind.values
    title, body, kind = _clean(title, body, kind, allowed_kinds=allowed)
    if author is not None and not author.memberships.filter(group=group, status=MembershipStatus.ACTIVE).exists():
        raise ApplicationError(_("Only members of the group post in it."), field="group")

    # Title and body are scanned apart, so each hit's span is in its own text.
    title_hits = text_scan(community=group.community, text=title)
    body_hits = text_scan(community=group.community, text=body)
    hits = title_hits + body_hits
    action = strongest(hits)
    post = Post.objects.create(
        community_id=group.community_id,
        group=group,
        author=author,
        source=source,
        kind=kind,
        title=title,
        body=body,
        body_html=render_markdown(body),
        status=PostStatus.FIRST_REVIEW,
        word_hits=_hits_json(title_hits, "title") + _hits_json(body_hits, "body"),
        status_token=secrets.token_urlsafe(24),
    )
    words = sorted({hit.word for hit in hits if hit.action == action}) if action else []
    if action == WordAction.BLOCK:
        post.status = PostStatus.BLOCKED
        post.save(update_fields=["status", "updated_at"])
        _step(
            post,
            ReviewStage.CHECK,
            ReviewDecision.BLOCKED,
            note=_("Blocked words: %(words)s") % {"words": "、".join(words)},
        )
        return post
    if action == WordAction.REVIEW:
        _step(
            post,
            ReviewStage.CHECK,
            ReviewDecision.TO_REVIEW,
            note=_("Words to review: %(words)s") % {"words": "、".join(words)},
        )
        return post
    if action == WordAction.WARN:
        _step(
            post,
            ReviewStage.CHECK,
            ReviewDecision.WARNED,
            note=_("Uncivil words: %(words)s") % {"words": "、".join(words)},
        )
        if author is not None:
            warning_record(member=author, group=group, words=words, post=post)
    else:
        _step(post, ReviewStage.CHECK, ReviewDecision.PASSED)
    if source != PostSource.MEMBER or skips_review(group):
        _publish(post, by=by, decision=ReviewDecision.PUBLISHED, stage=ReviewStage.FINAL, note=_("No review needed."))
    return post


def _publish(post: Post, *, by, decision: str, stage: str, note: str = "") -> None:
    post.status = PostStatus.PUBLISHED
    post.published_at = timezone.now()
    post.featured = post.featured or decision == ReviewDecision.FEATURED
    post.save(update_fields=["status", "published_at", "featured", "updated_at"])
    _step(post, stage, decision, by=by, note=note)
    post_published(post)


def _publishing(decision: str) -> dict:
    """The fields a claimed final review sets in one UPDATE (a published post has its time)."""
    now = timezone.now()
    if decision == ReviewDecision.REJECTED:
        return {"status": PostStatus.REJECTED, "updated_at": now}
    fields = {"status": PostStatus.PUBLISHED, "published_at": now, "updated_at": now}
    if decision == ReviewDecision.FEATURED:
        fields["featured"] = True
    return fields


def post_published(post: Post) -> None:
    """A published post goes to its group's chat through the outbox; a hub announcement is
    also mirrored into every sub-group still in its transition window (过渡期)."""
    text = f"{post.title}\n\n{post.body}"
    message_enqueue(
        group=post.group,
        kind=MessageKind.ANNOUNCEMENT if post.kind == PostKind.ANNOUNCEMENT else MessageKind.PUSH,
        body=text,
        dedupe_key=f"post:{post.pk}",
    )
    if post.kind == PostKind.ANNOUNCEMENT and post.group.kind == GroupKind.HUB:
        for group in (
            Group.objects.filter(community_id=post.community_id, transition_ends_at__gt=timezone.now())
            .select_related("community")
            .exclude(status=GroupStatus.ARCHIVED)
            .exclude(pk=post.group_id)
        ):
            with member_locale(group.community):
                mirrored = _("[From the hub] %(text)s") % {"text": text}
            message_enqueue(
                group=group,
                kind=MessageKind.ANNOUNCEMENT,
                body=mirrored,
                dedupe_key=f"post:{post.pk}:mirror:{group.pk}",
            )


def _decided_already(post: Post) -> ApplicationError:
    post.refresh_from_db()
    last = post.steps.order_by("-at", "-pk").select_related("by").first()
    who = last.by.get_username() if last and last.by else _("someone else")
    return ApplicationError(
        _("This post has moved on (%(status)s, by %(who)s).") % {"status": post.get_status_display(), "who": who}
    )


@transaction.atomic
def post_first_review(*, post: Post, by, approve: bool, note: str = "") -> Post:
    """An admin's first review: on to the owner's final review, or rejected with a reason.
    Two reviewers at once: exactly one decision counts."""
    note = (note or "").strip()
    if not approve and not note:
        raise ApplicationError(_("Say why, so the author understands."), field="note")
    target = PostStatus.FINAL_REVIEW if approve else PostStatus.REJECTED
    if (
        Post.objects.filter(pk=post.pk, status=PostStatus.FIRST_REVIEW).update(status=target, updated_at=timezone.now())
        != 1
    ):
        raise _decided_already(post)
    post.refresh_from_db()
    _step(post, ReviewStage.FIRST, ReviewDecision.APPROVED if approve else ReviewDecision.REJECTED, by=by, note=note)
    return post


@transaction.atomic
def post_final_review(*, post: Post, by, decision: str, note: str = "") -> Post:
    """The owner's final review: publish, publish as featured (优质内容打标), or reject."""
    note = (note or "").strip()
    if decision not in (ReviewDecision.PUBLISHED, ReviewDecision.FEATURED, ReviewDecision.REJECTED):
        raise ApplicationError(_("Publish, feature or reject."), field="decision")
    if decision == ReviewDecision.REJECTED and not note:
        raise ApplicationError(_("Say why, so the author understands."), field="note")
    if Post.objects.filter(pk=post.pk, status=PostStatus.FINAL_REVIEW).update(**_publishing(decision)) != 1:
        raise _decided_already(post)
    post.refresh_from_db()
    _step(post, ReviewStage.FINAL, decision, by=by, note=note)
    if post.status == PostStatus.PUBLISHED:
        post_published(post)
    return post


@transaction.atomic
def post_feature(*, post: Post, featured: bool, by) -> Post:
    """Mark (or unmark) a published post as featured, for the next digest."""
    if post.status != PostStatus.PUBLISHED:
        raise ApplicationError(_("Only published posts are featured."))
    Post.objects.filter(pk=post.pk).update(featured=bool(featured))
    post.refresh_from_db()
    return post


@transaction.atomic
def content_settings_update(*, group: Group, skip_review: bool) -> ContentSettings:
    settings, _created = ContentSettings.objects.update_or_create(
        group=group, defaults={"skip_review": bool(skip_review)}
    )
    return settings
