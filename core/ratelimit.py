"""Fixed-window counters in the cache (Redis in production), for anti-spam limits."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
CACHE_DOWN = (RedisError, OSError)


def allow(name: str, key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit for ``key``; False once it has had ``limit`` hits in the current window.
    With the cache down, True: a limit must not take the service down (the outage is logged)."""
    window = int(time.time() // window_seconds)
    cache_key = f"ratelimit:{name}:{key}:{window}"
    try:
        cache.add(cache_key, 0, timeout=window_seconds + 5)
        try:
            hits = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window_seconds + 5)
            hits = 1
    except CACHE_DOWN as error:
        logger.warning("%s limit not checked, the cache is unavailable: %s", name, error)
        return True
    return hits <= limit
