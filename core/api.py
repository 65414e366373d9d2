"""REST API conventions used by every app's api.py.

One error body everywhere: ``{"code": "…", "message": "…", "extra": {"fields": {"name": ["…"]}}}``.
``code`` is stable and machine-readable (``invalid``, ``not_found``, ``missing_scope`` …);
``message`` is for people, in the request's language.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    code = serializers.CharField(
        help_text="Stable and machine-readable: invalid, not_found, permission_denied, missing_scope, "
        "not_authenticated, authentication_failed, key_invalid, throttled, …"
    )
    message = serializers.CharField()
    extra = serializers.DictField(required=False, help_text="`fields` maps each bad input to its messages.")


def _field_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApplicationError):
        return Response({"code": exc.code, "message": exc.message, "extra": exc.extra}, status=exc.status_code)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: let Django log it and answer 500

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        first = next(iter(fields.values()), [_("Invalid input.")])
        while isinstance(first, (list, dict)) and first:
            first = next(iter(first.values())) if isinstance(first, dict) else first[0]
        response.data = {"code": "invalid", "message": str(first), "extra": {"fields": fields}}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            extra["retry_after_seconds"] = int(exc.wait)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", None) or "error"
        response.data = {"code": str(code), "message": str(detail), "extra": extra}
    return response


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode(self.charset) if isinstance(data, str) else b""


class JSONErrorsMixin:
    """Errors are JSON even from endpoints that answer in another format (e.g. text/plain)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "exception", False) and not isinstance(
            response.accepted_renderer, (JSONRenderer, BrowsableAPIRenderer)
        ):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
            response.renderer_context = self.get_renderer_context()
        return response
