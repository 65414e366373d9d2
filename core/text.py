"""Checks on user text that every app shares."""

from __future__ import annotations

import unicodedata
from typing import Any

# Control characters break rendering; lone surrogates (valid in JSON, "\ud800") cannot even be
# encoded as UTF-8, so PostgreSQL refuses them and a response containing one cannot be sent.
_INVALID_CATEGORIES = frozenset({"Cc", "Cs"})


def has_invalid_characters(text: str) -> bool:
    return any(unicodedata.category(char) in _INVALID_CATEGORIES for char in text)


def has_invalid_multiline_characters(text: str) -> bool:
    """Like ``has_invalid_characters``, but line breaks and tabs are fine (bodies, replies)."""
    return any(unicodedata.category(char) in _INVALID_CATEGORIES and char not in "\n\r\t" for char in text)


def json_has_invalid_text(value: Any) -> bool:
    """True when any string in a decoded JSON value (keys included) has invalid characters."""
    if isinstance(value, str):
        return has_invalid_characters(value)
    if isinstance(value, dict):
        return any(json_has_invalid_text(key) or json_has_invalid_text(item) for key, item in value.items())
    if isinstance(value, list):
        return any(json_has_invalid_text(item) for item in value)
    return False
