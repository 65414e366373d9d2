import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and compose healthchecks: 200 when the database (and Redis, when
    configured) answer, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {error.__class__.__name__}"
    if settings.REDIS_URL:
        from django.core.cache import cache

        try:
            cache.set("canopy:healthz", "1", 10)
            checks["redis"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["redis"] = f"error: {error.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the API's error body for unknown URLs too; people get the page."""
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": "Not found.", "extra": {}}, status=404)
    return defaults.page_not_found(request, exception)


DATABASE_RETRY_SECONDS = 5


def _database_down(error: BaseException | None) -> bool:
    """The database cannot be reached, or gave up on a transient conflict (a lost connection, a
    deadlock): something to wait out and retry, not a bug."""
    return isinstance(error, (OperationalError, InterfaceError))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this while the exception is being handled, so it can tell an outage apart:
    a database that cannot be reached answers 503 with Retry-After, and clients retry."""
    if _database_down(sys.exc_info()[1]):
        body = {
            "code": "database_unavailable",
            "message": "The database is unavailable: retry in a few seconds.",
            "extra": {"retry_after_seconds": DATABASE_RETRY_SECONDS},
        }
        response = (
            JsonResponse(body, status=503)
            if _wants_json(request)
            else HttpResponse(body["message"], status=503, content_type="text/plain; charset=utf-8")
        )
        response["Retry-After"] = str(DATABASE_RETRY_SECONDS)
        return response
    if _wants_json(request):
        return JsonResponse({"code": "server_error", "message": "Server error.", "extra": {}}, status=500)
    return defaults.server_error(request)
