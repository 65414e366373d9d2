"""OpenAPI generation shared by every app (drf-spectacular)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

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
    }

    def get_tags(self) -> list[str]:
        """One tag per area of the API (groups, members, funnel …), as integration scopes are."""
        area = api_area(self.view)
        return [area] if area else super().get_tags()

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in self.error_codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(description)
                responses[code] = response
        return responses
