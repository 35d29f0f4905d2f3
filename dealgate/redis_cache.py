"""Django's RedisCache, but a Redis that does not answer is a cache miss, not a failed page.

Everything Dealgate keeps in the cache can be computed again from the database (decision 032), so
when Redis is down the pages compute without it: a read finds nothing, a write is dropped. The
first failure logs one warning naming DEALGATE_REDIS_URL; the process then leaves Redis alone for
RETRY_SECONDS (so a Redis that hangs costs one timeout per pause, not one per figure) and tries
again; the first success after an outage logs that Redis answers again. `/healthz` asks Redis
itself (`ping`) and reports it down (decision 039).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger("dealgate.cache")

RETRY_SECONDS = 5.0

# Django makes one cache object per thread: the outage is remembered per process and location.
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class FallbackRedisCache(RedisCache):
    def _guard(self, default: Any, call: Callable[[], Any]) -> Any:
        location = self._servers[0] if self._servers else ""
        if time.monotonic() < _down_until.get(location, 0.0):
            return default
        try:
            answer = call()
        except RedisError as exc:
            with _lock:
                was_up = location not in _down_until
                _down_until[location] = time.monotonic() + RETRY_SECONDS
            if was_up:
                logger.warning("Redis (DEALGATE_REDIS_URL) does not answer (%s): computing without the cache, "
                               "trying again every %d s", str(exc)[:200], RETRY_SECONDS)
            return default
        if location in _down_until:
            with _lock:
                recovered = _down_until.pop(location, None) is not None
            if recovered:
                logger.warning("Redis (DEALGATE_REDIS_URL) answers again: the cache is back in use")
        return answer

    def ping(self) -> str | None:
        """None when Redis answers now (whatever the pause says), else why not."""
        try:
            self._cache.get_client(write=True).ping()
        except RedisError as exc:
            return str(exc)[:200] or type(exc).__name__
        return None

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(False, lambda: super(FallbackRedisCache, self).add(key, value, timeout, version))

    def get(self, key, default=None, version=None):
        return self._guard(default, lambda: super(FallbackRedisCache, self).get(key, default, version))

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(None, lambda: super(FallbackRedisCache, self).set(key, value, timeout, version))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(False, lambda: super(FallbackRedisCache, self).touch(key, timeout, version))

    def delete(self, key, version=None):
        return self._guard(False, lambda: super(FallbackRedisCache, self).delete(key, version))

    def get_many(self, keys, version=None):
        return self._guard({}, lambda: super(FallbackRedisCache, self).get_many(keys, version))

    def has_key(self, key, version=None):
        return self._guard(False, lambda: super(FallbackRedisCache, self).has_key(key, version))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(list(data), lambda: super(FallbackRedisCache, self).set_many(data, timeout, version))

    def delete_many(self, keys, version=None):
        return self._guard(None, lambda: super(FallbackRedisCache, self).delete_many(keys, version))
