"""DRF's throttles, failing open: they count requests in the cache (Redis in production), and a
cache that is down must not take the API down with it. Storing events needs no cache; while
Redis is away the limits are simply not enforced, and the outage is logged."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)
CACHE_DOWN = (RedisError, OSError)


class FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_DOWN as error:
            logger.warning("rate limit not checked, the cache is unavailable: %s", error)
            return True


class AnonRateThrottle(FailOpen, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpen, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpen, throttling.ScopedRateThrottle):
    pass
