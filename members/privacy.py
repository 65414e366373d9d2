"""Personal data shown to whom: phones and e-mails are masked unless the viewer may see them."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """13812341234 → 138****1234; shorter numbers keep less."""
    digits = "".join(_DIGITS.findall(phone or ""))
    if not digits:
        return ""
    if len(digits) >= 11:
        local = digits[-11:]  # +86 and other country codes drop off
        return f"{local[:3]}****{local[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:2]}****{digits[-2:]}"
    return "****"


def mask_email(email: str) -> str:
    """lin.wei@example.org → l***@example.org"""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def shown_phone(phone: str, *, visible: bool) -> str:
    return phone if visible else mask_phone(phone)


def shown_email(email: str, *, visible: bool) -> str:
    return email if visible else mask_email(email)
