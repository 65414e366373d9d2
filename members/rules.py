"""Checks on people's data that forms, serializers and services share. Each raises
``ApplicationError`` naming its field."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.text import has_invalid_characters
from subgroups import rules as subgroup_rules
from subgroups.models import LifecycleStage, Platform

_PHONE = re.compile(r"^\+?[\d\s\-()]{5,24}$")


def clean_name(name: str, field: str = "display_name") -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ApplicationError(_("Please give a name."), field=field)
    if len(name) > 100 or has_invalid_characters(name):
        raise ApplicationError(_("Names are 100 printable characters at most."), field=field)
    return name


def clean_phone(phone: str) -> str:
    phone = (phone or "").strip()
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.match(phone) or not 5 <= len(digits) <= 20:
        raise ApplicationError(_("Enter a phone number, e.g. 13812341234 or +86 138 1234 1234."), field="phone")
    # Stored as digits (and a leading +), so the same number always looks the same.
    return ("+" if phone.startswith("+") else "") + digits


def clean_email(email: str) -> str:
    email = (email or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(_("Enter a valid e-mail address."), field="email") from None
    if len(email) > 254:
        raise ApplicationError(_("Enter a valid e-mail address."), field="email")
    return email.lower()


def clean_city(city: str) -> str:
    city = " ".join((city or "").split())
    if len(city) > 50 or has_invalid_characters(city):
        raise ApplicationError(_("Cities are 50 characters at most."), field="city")
    return city


def clean_language(language: str) -> str:
    """A member's own language: one Canopy speaks (as a community's), or blank for the community's."""
    language = (language or "").strip()
    return subgroup_rules.clean_language(language) if language else ""


def clean_handle(platform: str, external_id: str) -> tuple[str, str]:
    platform, external_id = (platform or "").strip(), (external_id or "").strip()
    if not platform and not external_id:
        return "", ""
    if platform not in Platform.values:
        raise ApplicationError(_("Choose the platform of this account."), field="platform")
    if not external_id or len(external_id) > 128 or has_invalid_characters(external_id):
        raise ApplicationError(_("Enter the account's id on the platform."), field="external_user_id")
    return platform, external_id


def clean_tags(tags: Any) -> list[str]:
    if tags in (None, ""):
        return []
    if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) for tag in tags):
        raise ApplicationError(_("Tags are a list of words."), field="tags")
    cleaned: list[str] = []
    for tag in tags:
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > 30 or has_invalid_characters(tag):
            raise ApplicationError(_("Each tag is 30 characters at most."), field="tags")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > 30:
        raise ApplicationError(_("30 tags at most."), field="tags")
    return cleaned


def clean_stage(stage: str) -> str:
    if stage in (None, ""):
        return ""
    if stage not in LifecycleStage.values:
        raise ApplicationError(
            _("Choose one of: %(stages)s.") % {"stages": ", ".join(LifecycleStage.values)}, field="lifecycle_stage"
        )
    return stage


def clean_purchases(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
        raise ApplicationError(_("Purchases are a whole number from 0 to 100000."), field="purchase_count")
    return count


def clean_long_text(text: str, field: str, *, max_length: int = 5000) -> str:
    text = (text or "").strip()
    if (
        len(text) > max_length
        or "\x00" in text
        or has_invalid_characters(text.replace("\n", "").replace("\r", "").replace("\t", ""))
    ):
        raise ApplicationError(_("Keep this to %(max)d printable characters.") % {"max": max_length}, field=field)
    return text


def contact_key(*, phone: str = "", email: str = "", platform: str = "", external_id: str = "") -> str:
    """One string per person for duplicate checks and rate limits: the phone's digits, else the
    e-mail, else the platform account."""
    digits = re.sub(r"\D", "", phone or "")
    if digits:
        return f"phone:{digits[-11:]}"
    if email:
        return f"email:{email.strip().lower()}"
    if platform and external_id:
        return f"{platform}:{external_id}"
    return ""
