"""What the mailer's cache keys hold, as redis-cli shows them: for `mailer_status`,
`mailer_unlock` and reconcile. Reads only; the keys are written in mailer.engine.limits."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from mailer.engine.limits import (
    CACHE_ERRORS,
    SENDER_LOCK_KEY,
    THROTTLE_LIMIT_SETTINGS,
    _redis_client,
    throttle_key,
    throttle_limit,
)


@dataclass(frozen=True)
class CacheEntry:
    """A raw cache key as redis-cli shows it. `ttl` in seconds (None: no key or no expiry);
    `ttl_known` is False when the cache is not Redis (Django's cache API has no TTL); `error`
    is set when the cache cannot be reached."""

    key: str
    value: Any = None
    ttl: int | None = None
    ttl_known: bool = False
    error: str = ""


@dataclass(frozen=True)
class ThrottleState:
    action: str
    limit: int
    entry: CacheEntry


@dataclass(frozen=True)
class LockState:
    """The sender lock. `silent_for`: seconds since its holder last beat (None: free, or not
    known without Redis); `stale`: silent for the grace (MAILER_SENDER_LOCK_GRACE) or longer,
    so the next sender takes it over; `taken_at`: when it was taken, read from its value."""

    entry: CacheEntry
    silent_for: int | None = None
    stale: bool = False
    taken_at: datetime | None = None


def cache_entry(key: str) -> CacheEntry:
    try:
        value = cache.get(key)
        ttl, ttl_known = _redis_ttl(key)
    except CACHE_ERRORS as exc:
        return CacheEntry(key=key, error=str(exc))
    return CacheEntry(key=key, value=value, ttl=ttl, ttl_known=ttl_known)


def _redis_ttl(key: str) -> tuple[int | None, bool]:
    client = _redis_client(key)
    if client is None:
        return None, False
    seconds = client.ttl(key)
    return (seconds if seconds >= 0 else None), True


def sender_lock_state() -> LockState:
    entry = cache_entry(SENDER_LOCK_KEY)
    if entry.value is None or not entry.ttl_known:
        return LockState(entry=entry, taken_at=_taken_at(entry.value))
    # The holder refreshes the TTL when it beats: what is gone of it is the silence.
    silent_for = settings.MAILER_SENDER_LOCK_TTL - entry.ttl if entry.ttl is not None else None
    stale = silent_for is None or silent_for >= settings.MAILER_SENDER_LOCK_GRACE
    return LockState(entry=entry, silent_for=silent_for, stale=stale, taken_at=_taken_at(entry.value))


def _taken_at(value) -> datetime | None:
    if not isinstance(value, int) or value < 10**18:
        return None  # free, or a lock of an older version (a plain random number)
    return datetime.fromtimestamp(value // 10**6 / 1000, tz=UTC)


def throttle_state(user) -> list[ThrottleState]:
    """This clock hour's throttle counters of one user, with their limits."""
    return [
        ThrottleState(action=action, limit=throttle_limit(action), entry=cache_entry(throttle_key(action, user.pk)))
        for action in THROTTLE_LIMIT_SETTINGS
    ]
