from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address. Behind ``CANOPY_TRUSTED_PROXY_HOPS`` proxies, the address the
    outermost trusted proxy saw (X-Forwarded-For, counted from the right, which clients can't
    forge); otherwise REMOTE_ADDR."""
    hops = settings.CANOPY_TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(hops, len(forwarded))]
    return request.META.get("REMOTE_ADDR") or None
