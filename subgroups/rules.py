"""Checks on tree input that forms, serializers, the admin and the services all share.

Each raises ``ApplicationError`` with the field it concerns, so the message lands next to
that field wherever the input came from.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.text import slugify
from django.utils.translation import gettext as _
from pypinyin import lazy_pinyin

from core.errors import ApplicationError
from core.text import has_invalid_characters, json_has_invalid_text
from subgroups.models import (
    LANGUAGES,
    MAX_CAPACITY,
    PLATFORM_DEFAULT_CAPACITY,
    Group,
    GroupKind,
    LifecycleStage,
    Platform,
)

NAME_MAX_LENGTH = 100
SLUG_MAX_LENGTH = 80
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _fold(text: str) -> str:
    """NFKC, case-folded, with spaces and invisible characters removed: "高 级" still says 高级."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_INVISIBLE)
    return "".join(char for char in folded if not char.isspace())


def clean_group_name(name: str, *, banned_words: Iterable[str]) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ApplicationError(_("A group needs a name."), field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(
            _("Keep the name to %(max)d characters or fewer.") % {"max": NAME_MAX_LENGTH}, field="name"
        )
    if has_invalid_characters(name):
        raise ApplicationError(_("The name contains characters that cannot be shown."), field="name")
    check_banned_words(name, banned_words, field="name")
    return name


def check_banned_words(text: str, banned_words: Iterable[str], *, field: str) -> None:
    found = find_banned_word(text, banned_words)
    if found:
        raise ApplicationError(
            _("Group names may not contain “%(word)s”: it can put members off. Banned words: %(words)s.")
            % {"word": found, "words": "、".join(banned_words)},
            field=field,
        )


def find_banned_word(text: str, banned_words: Iterable[str]) -> str | None:
    folded = _fold(text)
    for word in banned_words:
        if word and _fold(word) and _fold(word) in folded:
            return word
    return None


def clean_banned_words(words: Any) -> list[str]:
    if not isinstance(words, (list, tuple)):
        raise ApplicationError(_("Banned words must be a list of words."), field="banned_name_words")
    cleaned: list[str] = []
    for word in words:
        if not isinstance(word, str):
            raise ApplicationError(_("Banned words must be text."), field="banned_name_words")
        word = word.strip()
        if not word:
            continue
        if len(word) > 30 or has_invalid_characters(word):
            raise ApplicationError(
                _("“%(word)s” is not a usable banned word (30 characters at most).") % {"word": word[:30]},
                field="banned_name_words",
            )
        if word not in cleaned:
            cleaned.append(word)
    if len(cleaned) > 200:
        raise ApplicationError(_("Keep the list to 200 words or fewer."), field="banned_name_words")
    return cleaned


def clean_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not slug or len(slug) > SLUG_MAX_LENGTH or not _SLUG_RE.match(slug):
        raise ApplicationError(
            _("Use lowercase letters, digits and single hyphens, up to %(max)d characters.") % {"max": SLUG_MAX_LENGTH},
            field="slug",
        )
    return slug


def slug_from_name(name: str) -> str:
    """A readable ASCII slug, spelling Chinese in pinyin: 北京车友群 → bei-jing-che-you-qun."""
    words = lazy_pinyin(name)
    slug = slugify(" ".join(words))[: SLUG_MAX_LENGTH - 4].strip("-")
    return slug or "group"


def clean_link(value: str, field: str = "join_link") -> str:
    """An http(s) address, or nothing: a link shown to newcomers must not run script."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ApplicationError(_("Enter a link starting with https:// (or http://)."), field=field) from None
    if len(value) > 500:
        raise ApplicationError(_("Keep the link to 500 characters."), field=field)
    return value


def clean_time_zone(value: str) -> str:
    if value not in available_time_zones():
        raise ApplicationError(_("“%(zone)s” is not a known time zone.") % {"zone": value}, field="time_zone")
    return value


@cache
def clean_language(value: str) -> str:
    value = (value or "").strip().lower()
    if value not in dict(LANGUAGES):
        raise ApplicationError(
            _("Choose a language Canopy speaks: %(languages)s.") % {"languages": ", ".join(dict(LANGUAGES))},
            field="language",
        )
    return value


def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_capacity(capacity: int | None, platform: str, *, member_count: int = 0) -> int:
    if capacity is None:
        capacity = PLATFORM_DEFAULT_CAPACITY[platform]
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise ApplicationError(
            _("Capacity must be a whole number from 1 to %(max)d.") % {"max": MAX_CAPACITY}, field="capacity"
        )
    if capacity < member_count:
        raise ApplicationError(
            _("The group already has %(count)d members; capacity cannot go below that.") % {"count": member_count},
            field="capacity",
        )
    return capacity


def clean_platform(platform: str) -> str:
    if platform not in Platform.values:
        raise ApplicationError(
            _("Unknown platform. Choose one of: %(platforms)s.") % {"platforms": ", ".join(Platform.values)},
            field="platform",
        )
    return platform


def clean_external_id(external_id: str) -> str:
    external_id = (external_id or "").strip()
    if len(external_id) > 128 or has_invalid_characters(external_id):
        raise ApplicationError(_("The external id must be 128 printable characters or fewer."), field="external_id")
    return external_id


def clean_text(value: str, field: str, *, max_length: int = 10_000) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ApplicationError(_("The text contains a NUL character."), field=field)
    if len(value) > max_length:
        raise ApplicationError(_("Keep this to %(max)d characters or fewer.") % {"max": max_length}, field=field)
    return value


def check_external_id_free(*, community_id: int, platform: str, external_id: str, exclude_pk: int | None = None):
    if not external_id:
        return
    clash = Group.objects.filter(community_id=community_id, platform=platform, external_id=external_id)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ApplicationError(
            _("Another group in this community already has this external id on %(platform)s.")
            % {"platform": Platform(platform).label},
            field="external_id",
        )


def check_parent_open(parent: Group) -> None:
    if parent.is_archived:
        raise ApplicationError(_("“%(name)s” is archived: restore it first.") % {"name": parent.name}, field="parent")


def check_slug_free(*, community_id: int, slug: str) -> None:
    if Group.objects.filter(community_id=community_id, slug=slug).exists():
        raise ApplicationError(_("Another group in this community already uses this slug."), field="slug")


def check_move(*, group: Group, new_parent: Group) -> None:
    """Refuse moves that would break the tree: the hub, other communities, cycles."""
    if group.is_hub:
        raise ApplicationError(_("The hub is the root of its community and cannot move."), field="parent")
    if new_parent.community_id != group.community_id:
        raise ApplicationError(_("A group cannot move to another community."), field="parent")
    if new_parent.pk == group.pk or new_parent.is_descendant_of(group):
        raise ApplicationError(
            _("“%(target)s” is inside “%(name)s”: a group cannot move under itself.")
            % {"target": new_parent.name, "name": group.name},
            field="parent",
        )
    check_parent_open(new_parent)


# --- Admission criteria ---------------------------------------------------------------------
# Structured, per kind: tier groups screen by purchases or annual membership, region groups by
# city, lifecycle groups by stage, interest groups by tags. Custom groups may combine them.
CRITERIA_KEYS_BY_KIND: dict[str, frozenset[str]] = {
    GroupKind.HUB: frozenset(),
    GroupKind.TIER: frozenset({"min_purchases", "annual_member"}),
    GroupKind.REGION: frozenset({"cities"}),
    GroupKind.LIFECYCLE: frozenset({"stage"}),
    GroupKind.INTEREST: frozenset({"tags"}),
    GroupKind.CUSTOM: frozenset({"min_purchases", "annual_member", "cities", "stage", "tags"}),
}
_MAX_LIST_ITEMS = 50
_MAX_ITEM_LENGTH = 50
_MAX_PURCHASES = 100_000


def _criteria_error(message: str) -> ApplicationError:
    return ApplicationError(message, field="admission_criteria")


def _clean_text_list(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _criteria_error(_("“%(key)s” must be a list of words.") % {"key": key})
    items: list[str] = []
    for item in value:
        item = " ".join(item.split())
        if not item:
            continue
        if len(item) > _MAX_ITEM_LENGTH or has_invalid_characters(item):
            raise _criteria_error(
                _("Each entry in “%(key)s” must be %(max)d characters or fewer.")
                % {"key": key, "max": _MAX_ITEM_LENGTH}
            )
        if item not in items:
            items.append(item)
    if len(items) > _MAX_LIST_ITEMS:
        raise _criteria_error(_("“%(key)s” may hold %(max)d entries at most.") % {"key": key, "max": _MAX_LIST_ITEMS})
    return items


def clean_admission_criteria(kind: str, criteria: Any) -> dict[str, Any]:
    if criteria in (None, ""):
        return {}
    if not isinstance(criteria, dict):
        raise _criteria_error(_("Admission criteria must be an object."))
    if json_has_invalid_text(criteria):
        raise _criteria_error(_("The admission criteria contain characters that cannot be shown."))
    allowed = CRITERIA_KEYS_BY_KIND.get(kind, frozenset())
    unknown = sorted(set(criteria) - allowed)
    if unknown:
        if allowed:
            message = _("A %(kind)s group can screen by %(allowed)s, not by %(unknown)s.") % {
                "kind": GroupKind(kind).label,
                "allowed": ", ".join(sorted(allowed)),
                "unknown": ", ".join(unknown),
            }
        else:
            message = _("A %(kind)s group has no admission criteria.") % {"kind": GroupKind(kind).label}
        raise _criteria_error(message)

    cleaned: dict[str, Any] = {}
    if criteria.get("min_purchases") is not None:
        value = criteria["min_purchases"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_PURCHASES:
            raise _criteria_error(
                _("“min_purchases” must be a whole number from 0 to %(max)d.") % {"max": _MAX_PURCHASES}
            )
        cleaned["min_purchases"] = value
    if criteria.get("annual_member") is not None:
        if not isinstance(criteria["annual_member"], bool):
            raise _criteria_error(_("“annual_member” must be true or false."))
        cleaned["annual_member"] = criteria["annual_member"]
    for key in ("cities", "tags"):
        if criteria.get(key) is not None:
            items = _clean_text_list(key, criteria[key])
            if items:
                cleaned[key] = items
    if criteria.get("stage") not in (None, ""):
        if criteria["stage"] not in LifecycleStage.values:
            raise _criteria_error(
                _("“stage” must be one of: %(stages)s.") % {"stages": ", ".join(LifecycleStage.values)}
            )
        cleaned["stage"] = criteria["stage"]
    return cleaned


def describe_admission_criteria(criteria: dict[str, Any]) -> list[str]:
    """Short human phrases for the picture and the group page."""
    phrases: list[str] = []
    if "min_purchases" in criteria:
        phrases.append(_("≥%(n)d purchases") % {"n": criteria["min_purchases"]})
    if criteria.get("annual_member"):
        phrases.append(_("annual members"))
    if criteria.get("cities"):
        phrases.append("、".join(criteria["cities"]))
    if criteria.get("stage"):
        phrases.append(str(LifecycleStage(criteria["stage"]).label))
    if criteria.get("tags"):
        phrases.append(" ".join(f"#{tag}" for tag in criteria["tags"]))
    return phrases


# --- Naming convention ----------------------------------------------------------------------


def conventional_name_pattern(*, hub_name: str, attribute: str) -> re.Pattern:
    """``<hub>-<attribute>小群<NN>``; the number is the match's first group."""
    return re.compile(rf"^{re.escape(f'{hub_name}-{attribute}小群')}(\d+)$")


# --- Welcome template -----------------------------------------------------------------------
WELCOME_VARIABLES = ("name", "group", "rules")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def clean_welcome_template(template: str) -> str:
    template = (template or "").strip()
    if len(template) > 2000 or has_invalid_characters(template.replace("\n", "").replace("\r", "")):
        raise ApplicationError(_("Keep the welcome message to 2000 printable characters."), field="welcome_template")
    unknown = sorted({name for name in _PLACEHOLDER.findall(template) if name not in WELCOME_VARIABLES})
    if unknown:
        raise ApplicationError(
            _("Unknown placeholder %(unknown)s: use {name}, {group} and {rules}.")
            % {"unknown": ", ".join("{" + name + "}" for name in unknown)},
            field="welcome_template",
        )
    return template


def render_welcome(template: str, *, name: str, group: str, rules: str) -> str:
    """Fill in {name}, {group} and {rules}; nothing else in the text is interpreted."""
    values = {"name": name, "group": group, "rules": rules or ""}
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template).strip()
