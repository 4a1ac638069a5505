"""Counters, the sender lock and throttles, kept in the cache (Redis in production).

Everything goes through Django's cache API, so the embedded mode (database cache) runs the
same code. Keys are spelled exactly as operators read them with redis-cli.

When the cache is unreachable the hourly counter fails open (sending goes on, the error is
logged) and the throttles fail closed (staff get «Сервис временно недоступен»).
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError
from redis.exceptions import RedisError

from mailer.engine import policy
from mailer.exceptions import MailerError

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, DatabaseError, OSError)
SENDER_LOCK_KEY = "crm:mailer:send_pending_emails:lock"
SERVICE_UNAVAILABLE = "Сервис временно недоступен. Попробуйте через несколько минут."


def hourly_rate_key(*, now):
    return f"crm:mailer:rate:hour:{policy.hour_label(now=now)}"


def throttle_key(action, user_id):
    return f"crm:mailer:throttle:{action}:user:{user_id}"


def _increment(key, *, ttl_seconds, delta=1):
    # `incr` on a missing key raises; `add` creates it with its expiry only if it is absent.
    cache.add(key, 0, max(1, int(ttl_seconds)))
    return cache.incr(key, delta)


def hourly_sent(*, now):
    """Sends counted this hour, or None when the counter cannot be read."""
    try:
        return int(cache.get(hourly_rate_key(now=now)) or 0)
    except CACHE_ERRORS as exc:
        logger.error("Hourly rate counter unavailable", extra={"error": str(exc)})
        return None


def count_hourly_send(*, now):
    """Counts one send against this hour; returns the new count, or None if the cache is down."""
    try:
        return _increment(hourly_rate_key(now=now), ttl_seconds=2 * 3600)
    except CACHE_ERRORS as exc:
        logger.error(
            "Hourly rate counter unavailable, sending without it (fail-open)",
            extra={"error": str(exc)},
        )
        return None


def uncount_hourly_send(*, now, count=1):
    _give_back(hourly_rate_key(now=now), count)


def _give_back(key, count):
    try:
        cache.decr(key, count)
    except (*CACHE_ERRORS, ValueError):
        pass  # the counter is gone or unreachable: nothing to give back


class HourlyAllowance:
    """The sender's share of the hourly counter, reserved a batch of slots at a time.

    One INCRBY per batch instead of one INCR per message keeps the cache off the
    per-message path. Unused slots go back (DECRBY) when the hour turns or the run ends,
    so while a run goes on the counter may be ahead of real sends by its spare slots —
    never behind, so the provider's limit holds. With the cache down it fails open.
    """

    def __init__(self, *, limit, batch):
        self.limit = limit
        self.batch = batch
        self.key = None
        self.counted = 0  # the hour's counter as of our last reservation
        self.spare = 0  # reserved and not used yet

    def sent(self):
        """Sends counted this hour, by everyone, not counting our spare slots."""
        return self.counted - self.spare

    def prepare(self, *, now):
        """Makes sure a slot is reserved for this hour if the limit leaves one."""
        key = hourly_rate_key(now=now)
        if key != self.key:
            self.give_back()
            self.key, self.counted = key, 0
        if not self.spare:
            self._reserve()

    def use(self):
        self.spare -= 1

    def give_back(self):
        if self.key and self.spare:
            _give_back(self.key, self.spare)
            self.counted -= self.spare
            self.spare = 0

    def _reserve(self):
        try:
            count = _increment(self.key, ttl_seconds=2 * 3600, delta=self.batch)
        except CACHE_ERRORS as exc:
            logger.error(
                "Hourly rate counter unavailable, sending without it (fail-open)",
                extra={"error": str(exc)},
            )
            self.counted, self.spare = self.counted + self.batch, self.batch
            return
        before = count - self.batch
        granted = max(0, min(self.batch, self.limit - before))
        if granted < self.batch:
            _give_back(self.key, self.batch - granted)
        self.counted, self.spare = before + granted, granted


# Throttled actions and the settings holding their hourly limits (read at call time).
THROTTLE_LIMIT_SETTINGS = {
    "campaign_start": "MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR",
    "send_test_email": "MAILER_THROTTLE_TEST_EMAIL_PER_HOUR",
}


def throttle_limit(action):
    return getattr(settings, THROTTLE_LIMIT_SETTINGS[action])


def throttle(action, *, user, now):
    """Counts one `action` by `user` in the current clock hour; refuses past its limit.

    Windows are clock hours so the refusal can say exactly when it lifts.
    """
    limit = throttle_limit(action)
    resets_at = policy.next_hour_start(now=now)
    try:
        count = _increment(throttle_key(action, user.pk), ttl_seconds=(resets_at - now).total_seconds())
    except CACHE_ERRORS as exc:
        logger.error("Throttle unavailable, refusing (fail-closed)", extra={"action": action, "error": str(exc)})
        raise MailerError(SERVICE_UNAVAILABLE) from exc
    if count > limit:
        minutes = max(1, round((resets_at - now) / timedelta(minutes=1)))
        raise MailerError(
            f"Слишком часто: не больше {limit} в час. Попробуйте через {minutes} мин., после {resets_at:%H:%M}."
        )
    return count


class SenderLock:
    """`SET NX` with a TTL: one sender at a time. Released or extended only by its owner.

    The lock only saves work; recipients are claimed in the database, so a lost lock never
    sends an address twice. Its value is a random number, readable with redis-cli.
    """

    def __init__(self):
        self.token = secrets.randbits(62)
        self.held = False

    def acquire(self):
        """True if this process may send; also True when the cache is down (fail-open)."""
        try:
            self.held = cache.add(SENDER_LOCK_KEY, self.token, settings.MAILER_SENDER_LOCK_TTL)
        except CACHE_ERRORS as exc:
            logger.error("Sender lock unavailable, sending without it", extra={"error": str(exc)})
            return True
        return self.held

    def _owned(self):
        try:
            return self.held and cache.get(SENDER_LOCK_KEY) == self.token
        except CACHE_ERRORS:
            return self.held  # cannot tell while the cache is down: keep going (fail-open)

    def extend(self):
        """Keeps the lock for another TTL; False if it was lost (expired or taken)."""
        if not self.held:
            return True
        if not self._owned():
            self.held = False
            return False
        try:
            cache.touch(SENDER_LOCK_KEY, settings.MAILER_SENDER_LOCK_TTL)
        except CACHE_ERRORS:
            pass  # the cache went down mid-pass: the database claims still keep sends single
        return True

    def release(self):
        if self._owned():
            try:
                cache.delete(SENDER_LOCK_KEY)
            except CACHE_ERRORS:
                pass  # it expires by its TTL
        self.held = False


def sender_lock_holder():
    """The current lock value, or None (free or unreadable): for status screens."""
    try:
        return cache.get(SENDER_LOCK_KEY)
    except CACHE_ERRORS:
        return None


# --- what the keys hold, as redis-cli shows them (for `mailer_status`) ----------------------------


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


def cache_entry(key: str) -> CacheEntry:
    try:
        value = cache.get(key)
        ttl, ttl_known = _redis_ttl(key)
    except CACHE_ERRORS as exc:
        return CacheEntry(key=key, error=str(exc))
    return CacheEntry(key=key, value=value, ttl=ttl, ttl_known=ttl_known)


def _redis_ttl(key: str) -> tuple[int | None, bool]:
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None, False
    # The backend's own client (a private attribute): the same server and database the
    # mailer writes to, whatever CACHES says.
    seconds = backend._cache.get_client(key, write=False).ttl(backend.make_key(key))
    return (seconds if seconds >= 0 else None), True


def throttle_state(user) -> list[ThrottleState]:
    """This clock hour's throttle counters of one user, with their"""
    return [
        ThrottleState(action=action, limit=throttle_limit(action), entry=cache_entry(throttle_key(action, user.pk)))
        for action in THROTTLE_LIMIT_SETTINGS
    ]
