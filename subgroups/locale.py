"""Speaking to members: their community's language and time zone, whoever or whatever asks.

Everything a member receives (invitations, welcomes, recall messages, digests, notices) and every
page a member opens (application status, invitation, "my points", "my invites", surveys, votes)
is written in the member's own language where it is known (``Member.language``), otherwise in
the community's (``Community.language``), and shows times in the community's time zone. This
holds when an English-speaking admin approves an application, when an API call from a bot
triggers a welcome, and when a beat task runs under the server's default language.

Services that compose member-facing text wrap it in ``member_locale(community, member)``;
public pages render inside ``page_locale(request, community, member)``, which also honours a
language the visitor chose with the page's language switch.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.utils import timezone, translation

from subgroups.models import LANGUAGES, Community

_KNOWN = dict(LANGUAGES)


def _zone(community: Community) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(community.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone edited in by hand past the checks
        return zoneinfo.ZoneInfo(settings.CANOPY_DEFAULT_TIME_ZONE)


def language_for(community: Community, member=None) -> str:
    """The member's own language where known, else the community's."""
    own = getattr(member, "language", "") if member is not None else ""
    if own in _KNOWN:
        return own
    return community.language if community.language in _KNOWN else settings.CANOPY_DEFAULT_LANGUAGE


@contextmanager
def member_locale(community: Community, member=None) -> Iterator[str]:
    """Inside: gettext speaks the member's (or community's) language and local times are the
    community's. Yields the language code."""
    language = language_for(community, member)
    with translation.override(language), timezone.override(_zone(community)):
        yield language


@contextmanager
def page_locale(request, community: Community, member=None) -> Iterator[str]:
    """``member_locale`` for a page a member opens, unless the visitor picked a language with the
    language switch (its cookie), which wins: it is the one choice they made themselves."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    language = chosen if chosen in _KNOWN else language_for(community, member)
    with translation.override(language), timezone.override(_zone(community)):
        request.LANGUAGE_CODE = language
        yield language


def member_page(find):
    """A view decorator for the pages members open without logging in: ``find(**url_kwargs)``
    names the community (or a ``(community, member)`` pair; None when the link leads nowhere,
    and the view answers in the visitor's language as usual). The whole view runs inside
    ``page_locale``, so its form errors and messages speak the member's language too."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            found = find(**kwargs)
            if found is None:
                return view(request, *args, **kwargs)
            community, member = found if isinstance(found, tuple) else (found, None)
            with page_locale(request, community, member) as language:
                response = view(request, *args, **kwargs)
            response.headers.setdefault("Content-Language", language)
            return response

        return wrapped

    return decorate
