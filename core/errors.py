from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule said no. Services raise it; the API answers 400 with
    ``{"code": …, "message": …, "extra": {…}}`` and pages show it as a form or field error.

    ``field`` names the input the message belongs to, so forms and serializers can put the
    message next to that field.
    """

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = dict(extra or {})
        if field:
            self.extra.setdefault("fields", {})[field] = [message]
        if fields:
            self.extra.setdefault("fields", {}).update(fields)


class RateLimited(ApplicationError):
    """Too many attempts from one address or for one contact: the API answers 429."""

    status_code = 429
    code = "throttled"
