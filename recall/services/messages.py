"""Message templates: placeholders in braces, checked when a stage is saved so that sending
never meets one it cannot fill."""

from __future__ import annotations

import string
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from content.models import Post, PostKind, PostStatus
from core.errors import ApplicationError
from subgroups.models import Community, GroupKind

PLACEHOLDERS = ("name", "community", "days", "coupon", "points", "privilege", "digest", "link")


def template_check(text: str, *, field: str = "template") -> str:
    text = (text or "").strip()
    if len(text) > 2000:
        raise ApplicationError(_("Keep the message to 2,000 characters."), field=field)
    try:
        names = [name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise ApplicationError(_("A brace is not closed: write {{ and }} for literal braces."), field=field) from None
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        raise ApplicationError(
            _("Unknown placeholder %(names)s. Use: %(known)s.")
            % {
                "names": ", ".join("{" + name + "}" for name in unknown),
                "known": ", ".join("{" + n + "} " for n in PLACEHOLDERS),
            },
            field=field,
        )
    return text


def render(template: str, values: dict) -> str:
    """Fill a checked template; a template edited in the admin past the check still renders."""
    try:
        return template.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
    except (ValueError, KeyError, IndexError, AttributeError):
        return template


def link(token: str) -> str:
    return settings.CANOPY_PUBLIC_URL.rstrip("/") + reverse("recall_public:open", args=[token])


def digest_lines(community: Community, *, since: datetime, now: datetime, limit: int = 3) -> str:
    """What they missed: the featured posts of the sub-groups published while they were away,
    newest first."""
    posts = (
        Post.objects.filter(
            community=community,
            status=PostStatus.PUBLISHED,
            featured=True,
            published_at__gte=max(since, now - timedelta(days=90)),
            published_at__lte=now,
        )
        .exclude(group__kind=GroupKind.HUB)
        .exclude(kind=PostKind.DIGEST)
        .order_by("-published_at")
        .values_list("title", flat=True)[:limit]
    )
    return "\n".join(f"· {title}" for title in posts)
