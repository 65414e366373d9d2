"""OpenAPI generation shared by every app (drf-spectacular)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core.api import ErrorSerializer
from core.areas import api_area


class AutoSchema(SpectacularAutoSchema):
    """Documents the error answers every endpoint can give, so clients (and the schema fuzz
    test) can rely on the error body as much as on the success body."""

    error_codes = {
        "400": _("Bad input: see `extra.fields`."),
        "401": _("No or invalid credentials."),
        "403": _("Authenticated, but not allowed to do this."),
        "404": _("Not found, or not in a community you can see."),
        "429": _("Too many requests: slow down and retry later."),
        "503": _("The database is unavailable: retry after the seconds in Retry-After."),
    }

    idempotency_codes = {
        "409": _("A request with this Idempotency-Key is still running: retry in a moment."),
        "422": _("This Idempotency-Key was used for a different request in the last 24 hours."),
    }

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Any unique string of 1–255 printable ASCII characters (a UUID, say). A retry with "
                    "the same key and the same request gets the first answer (with `Idempotent-Replayed: true`) and "
                    "changes nothing; the same key with another request is a 422. Keys last 24 hours and belong to "
                    "the credential that sent them.",
                    pattern=r"^[\x20-\x7E]{1,255}$",
                )
            )
        return parameters

    def get_tags(self) -> list[str]:
        """One tag per area of the API (groups, members, funnel …), as integration scopes are."""
        area = api_area(self.view)
        return [area] if area else super().get_tags()

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = dict(self.error_codes)
        if self.method == "POST" and direction == "response":
            codes.update(self.idempotency_codes)
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(description)
                responses[code] = response
        return responses
