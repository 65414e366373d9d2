"""OpenAPI generation shared by every app (drf-spectacular)."""

from __future__ import annotations

import inspect
import re
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

    # What every standard action does, for operations whose code says nothing more of its own.
    action_notes = {
        "list": "Lists the {noun} in the communities you may see (with an integration key: its own "
        "community), a page at a time (`page`, `page_size` up to 500); the query parameters narrow it.",
        "retrieve": "One of the {noun}, by id; 404 when it does not exist or is not in a community you can see.",
        "create": "Creates one of the {noun} and answers with it as stored (201). Bad input is a 400 naming "
        "each field in `extra.fields`; send an `Idempotency-Key` to retry safely.",
        "update": "Replaces one of the {noun}; bad input is a 400 and changes nothing.",
        "partial_update": "Changes the fields you send on one of the {noun} and keeps the others; bad input "
        "is a 400 and changes nothing.",
        "destroy": "Deletes one of the {noun} (204); 404 when it is not in a community you can see.",
    }

    def get_description(self) -> str:
        """The operation's own docstring, else its view's own (never one inherited from a mixin),
        else a description of what the standard action does here."""
        action = getattr(self.view, "action", None) or self.method.lower()
        handler = getattr(self.view, action, None)
        own = inspect.cleandoc(handler.__doc__) if handler is not None and handler.__doc__ else ""
        if own:
            return own
        view_doc = inspect.cleandoc(self.view.__class__.__dict__.get("__doc__") or "")
        if action in self.action_notes:
            note = self.action_notes[action]
            if action == "list" and getattr(self.view, "pagination_class", None) is None:
                note = "Lists the {noun} in the communities you may see, all at once."
            return "\n\n".join(filter(None, [note.format(noun=self._noun()), view_doc]))
        return view_doc or (
            f"{(self.get_summary() or action.replace('_', ' ').capitalize()).rstrip('.')}. 404 when the object is "
            "not in a community you can see, 403 when you may see it but not do this."
        )

    def _noun(self) -> str:
        """What the operation's path is about, e.g. "recall policies" for /api/v1/recall/policies/{id}/."""
        words = [part for part in self.path.split("/") if part and not part.startswith("{")]
        words = [word for word in words if word not in ("api", "v1")]
        return re.sub(r"[-_]", " ", " ".join(words[-2:] if words[:1] == ["recall"] else words[-1:])) or "objects"

    def get_tags(self) -> list[str]:
        """One tag per area of the API (groups, members, funnel …), as integration scopes are."""
        area = api_area(self.view)
        return [area] if area else super().get_tags()

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if self.path == "/":  # a webhook (outbox/webhooks.py): the receiver answers, not Canopy
            return responses
        codes = dict(self.error_codes)
        if self.method == "POST" and direction == "response":
            codes.update(self.idempotency_codes)
        if self.method in ("POST", "PUT", "PATCH"):
            codes["415"] = _("Unsupported media type: send the body as JSON (or as a form), as the content type says.")
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(description)
                responses[code] = response
        return responses


def _blank(branch: Any) -> bool:
    return isinstance(branch, dict) and (branch.get("maxLength") == 0 or branch.get("enum") == [""])


def _loosen_blank_unions(node: Any) -> None:
    """A blank-able e-mail or URL field comes out as ``oneOf: [{format: …, default: ""}, <blank>]``:
    a default its own branch rejects, and (where a validator does not check the format) an empty
    string that matches both branches, which ``oneOf`` forbids. Validators and generated clients
    refuse both; "the format, or blank" is an ``anyOf`` with the default on the whole."""
    if isinstance(node, dict):
        branches = node.get("oneOf")
        if isinstance(branches, list) and any(_blank(branch) for branch in branches):
            node["anyOf"] = node.pop("oneOf")
            for branch in branches:
                if isinstance(branch, dict) and "default" in branch:
                    node.setdefault("default", branch.pop("default"))
        for value in node.values():
            _loosen_blank_unions(value)
    elif isinstance(node, list):
        for value in node:
            _loosen_blank_unions(value)


def _nulls_as_types(node: Any) -> None:
    """OpenAPI 3.1 has no ``nullable``: a null is one of the ``type``s (DRF's pagination still
    writes the 3.0 form)."""
    if isinstance(node, dict):
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for value in node.values():
            _nulls_as_types(value)
    elif isinstance(node, list):
        for value in node:
            _nulls_as_types(value)


def postprocess(result: dict, generator, request, public) -> dict:
    """drf-spectacular's last step (``POSTPROCESSING_HOOKS``): schema fixes that serializers
    cannot express."""
    _loosen_blank_unions(result)
    if str(result.get("openapi", "")).startswith("3.1"):
        _nulls_as_types(result)
    return result
