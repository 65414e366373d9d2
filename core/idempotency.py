"""``Idempotency-Key`` on the API's POSTs: a retried request gets the first answer and changes
nothing; the same key with another request is a 422; a retry while the first is still running
is a 409. Keys belong to the credential that sent them and last 24 hours.

It works for every POST under ``/api/`` from an authenticated client (an integration key, a
token, or a signed-in session): anonymous requests have no credential to scope a key to, so
their header is ignored. Only answers that settle the request are kept (2xx, 400 and 422): a
401, 403, 404, 409, 429 or 5xx depends on something outside the request, so a retry runs
again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import IdempotentRequest

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
STALE = timedelta(minutes=5)  # a request still "running" after this died with its process
KEPT = {400, 422}


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message, "extra": extra}, status=status)
    if status == 409:
        response["Retry-After"] = "1"
    return response


def _scope(request: HttpRequest) -> str | None:
    credential = request.META.get("HTTP_AUTHORIZATION", "")
    if credential:
        return hashlib.sha256(b"auth:" + credential.encode("utf-8", "surrogateescape")).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return hashlib.sha256(f"user:{user.pk}".encode()).hexdigest()
    return None


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        scope = _scope(request)
        if scope is None:
            return self.get_response(request)
        if not (1 <= len(key) <= 255) or not key.isascii() or not key.isprintable():
            return _error(
                400,
                "invalid",
                _("Idempotency-Key must be 1 to 255 printable ASCII characters."),
                fields={HEADER: [_("1 to 255 printable ASCII characters.")]},
            )
        fingerprint = _fingerprint(request)
        record, answer = self._claim(scope, key, fingerprint, request)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotentRequest.objects.filter(pk=record.pk, completed_at=None).delete()
            raise
        if (200 <= response.status_code < 300 or response.status_code in KEPT) and not response.streaming:
            IdempotentRequest.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=bytes(response.content),
                completed_at=timezone.now(),
            )
        else:
            IdempotentRequest.objects.filter(pk=record.pk, completed_at=None).delete()
        return response

    def _claim(self, scope: str, key: str, fingerprint: str, request: HttpRequest):
        """(our record, None) when this request is to run; (None, answer) otherwise. A new key
        costs one insert; an old record under the key is looked at only when the insert meets it."""
        now = timezone.now()
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    record = IdempotentRequest.objects.create(
                        scope=scope, key=key, fingerprint=fingerprint, method=request.method, path=request.path[:500]
                    )
                return record, None
            except IntegrityError:
                existing = IdempotentRequest.objects.filter(scope=scope, key=key).first()
                if existing is None:
                    continue  # it expired or failed between the two statements: try again
                expired = existing.created_at < now - LIFETIME
                died = existing.completed_at is None and existing.created_at < now - STALE
                if expired or died:
                    # Forget it and claim the key afresh; of two requests doing this at once, one
                    # inserts and the other finds its record running (409).
                    IdempotentRequest.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                    continue
                if existing.fingerprint != fingerprint:
                    return None, _error(
                        422,
                        "idempotency_key_reused",
                        _("This Idempotency-Key was used for a different request in the last 24 hours."),
                    )
                if existing.completed_at is None:
                    return None, _error(
                        409,
                        "idempotency_key_in_progress",
                        _("A request with this Idempotency-Key is still running: retry in a moment."),
                    )
                return None, _replay(existing)
        return None, _error(409, "idempotency_key_in_progress", _("Retry in a moment."))


def purge_expired() -> int:
    return IdempotentRequest.objects.filter(created_at__lt=timezone.now() - LIFETIME).delete()[0]
