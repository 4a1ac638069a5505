"""Counters, the sender lock and throttles, kept in the cache (Redis in production).

Everything goes through Django's cache API, so the embedded mode (database cache) runs the
same code. Keys are spelled exactly as operators read them with redis-cli.

When the cache is unreachable the hourly limit still holds: the hour's sends are counted in
the database (SendLog and claimed recipients). The throttles fail closed (staff get «Сервис
временно недоступен»); the sender lock fails open (recipients are claimed in the database).
"""

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError
from django.db.models import Exists, OuterRef, Q
from redis.exceptions import RedisError

from mailer.engine import policy
from mailer.exceptions import MailerError
from mailer.models import CampaignRecipient, SendLog

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


def database_hourly_count(*, now) -> int:
    """What this clock hour really used, from the database: messages sent (campaign and test)
    plus recipients claimed and still on their way or with an unknown outcome, and recipients sent whose SendLog row the
    sender has not written yet (it writes them in batches). The counter's floor, and its
    stand-in while the cache is unreachable."""
    hour = (policy.hour_start(now=now), policy.next_hour_start(now=now))
    sent = SendLog.objects.filter(status=SendLog.Status.SENT, created_at__gte=hour[0], created_at__lt=hour[1])
    logged = SendLog.objects.filter(recipient=OuterRef("pk"), status=SendLog.Status.SENT)
    # A message whose outcome is unknown (dropped after DATA) may have arrived: it keeps its slot.
    claimed = [CampaignRecipient.Status.SENDING, CampaignRecipient.Status.UNKNOWN]
    in_flight = CampaignRecipient.objects.filter(
        Q(status__in=claimed, claimed_at__gte=hour[0], claimed_at__lt=hour[1])
        | Q(~Exists(logged), status=CampaignRecipient.Status.SENT, sent_at__gte=hour[0], sent_at__lt=hour[1])
    )
    return sent.count() + in_flight.count()


def hourly_sent(*, now):
    """Sends counted this hour, or None when the counter cannot be read."""
    try:
        return int(cache.get(hourly_rate_key(now=now)) or 0)
    except CACHE_ERRORS as exc:
        logger.error("Hourly rate counter unavailable", extra={"error": str(exc)})
        return None


def count_hourly_send(*, now):
    """Counts one send against this hour; returns the new count. With the cache down, the
    count comes from the database (this send included), so the limit still holds."""
    try:
        return _increment(hourly_rate_key(now=now), ttl_seconds=2 * 3600)
    except CACHE_ERRORS as exc:
        logger.error(FALLBACK_MESSAGE, extra={"error": str(exc)})
        return database_hourly_count(now=now) + 1


def uncount_hourly_send(*, now, count=1):
    _give_back(hourly_rate_key(now=now), count, now=now)


def _give_back(key, count, *, now):
    """DECRBY `count`, but never below what the database says this hour really used (a
    counter that restarted empty or missed sends during an outage must not go negative)."""
    try:
        left = cache.decr(key, count)
        floor = database_hourly_count(now=now)
        if left < floor:
            cache.incr(key, floor - left)
    except (*CACHE_ERRORS, ValueError):
        pass  # the counter is gone or unreachable: nothing to give back


FALLBACK_MESSAGE = "Hourly rate counter unavailable, counting this hour's sends in the database"
CACHE_RETRY_SECONDS = 30


class HourlyAllowance:
    """The sender's share of the hourly counter, reserved a few slots at a time.

    One INCRBY per few messages instead of one INCR per message keeps the cache off the
    per-message path. It takes only a tenth of what the hour has left (one slot near the
    limit, policy.slots_to_reserve), so a test e-mail or an overlapping sender still finds
    slots; unused ones go back (DECRBY) when the hour turns or the run ends. While a run goes
    the counter may be ahead of real sends by its spare slots — never behind.

    With the cache down the hour's sends are counted in the database before every message
    (one indexed COUNT), so the limit holds without Redis; nothing is given back for slots
    the cache never counted.
    """

    def __init__(self, *, limit, batch):
        self.limit = limit
        self.batch = batch
        self.key = None
        self.hour = None  # a moment of the key's hour: the give-back's floor is that hour's
        self.counted = 0  # the hour's sends as of our last reservation, our spare slots included
        self.spare = 0  # reserved and not used yet
        self.cache_retry_at = 0.0  # while the cache is down: when to try it again (monotonic)
        self.in_cache = False  # whether `spare` was counted in the cache (and may go back)

    def sent(self):
        """Sends counted this hour, by everyone, not counting our spare slots."""
        return self.counted - self.spare

    def prepare(self, *, now):
        """Makes sure a slot is reserved for this hour if the limit leaves one."""
        key = hourly_rate_key(now=now)
        if key != self.key:
            self.give_back()
            self.key, self.hour, self.counted = key, now, 0
        if not self.spare:
            self._reserve(now)

    def use(self):
        self.spare -= 1

    def give_back(self):
        if self.key and self.spare and self.in_cache:
            _give_back(self.key, self.spare, now=self.hour)
        self.counted -= self.spare
        self.spare = 0

    def _reserve(self, now):
        if time.monotonic() < self.cache_retry_at:
            return self._reserve_from_database(now)
        try:
            before = self._cache_count(now)
            wanted = policy.slots_to_reserve(sent=before, limit=self.limit, batch=self.batch)
            count = _increment(self.key, ttl_seconds=2 * 3600, delta=wanted) if wanted else before
        except CACHE_ERRORS as exc:
            # One line per outage and run, and no cache round trip per message meanwhile.
            if not self.cache_retry_at:
                logger.error(FALLBACK_MESSAGE, extra={"error": str(exc)})
            self.cache_retry_at = time.monotonic() + CACHE_RETRY_SECONDS
            return self._reserve_from_database(now)
        before = count - wanted
        granted = max(0, min(wanted, self.limit - before))
        if granted < wanted:
            _give_back(self.key, wanted - granted, now=now)
        self.counted, self.spare, self.in_cache = before + granted, granted, True

    def _reserve_from_database(self, now):
        sent = database_hourly_count(now=now)
        self.spare, self.in_cache = int(sent < self.limit), False
        self.counted = sent + self.spare

    def _cache_count(self, now):
        """The counter as it stands, raised to the database's count if it is behind (Redis
        restarted empty, or sends went on without it during an outage)."""
        count = int(cache.get(self.key) or 0)
        floor = database_hourly_count(now=now)
        if count < floor:
            count = _increment(self.key, ttl_seconds=2 * 3600, delta=floor - count)
        return count


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
    sends an address twice. Its value, readable with redis-cli, is the moment it was taken
    (milliseconds since the epoch) followed by six random digits.

    The holder beats (refreshes the TTL) every BEAT_SECONDS (a quarter of the grace if that is
    shorter) while it sends, so the TTL left tells how long ago it was last seen. A lock not
    seen for MAILER_SENDER_LOCK_GRACE seconds belongs to a holder that is gone (kill -9, a lost
    container): the next sender takes it over at once instead of waiting for the whole TTL.
    That needs Redis (its TTL); with the embedded database cache a stale lock lives its TTL
    (or `mailer_unlock` clears it).
    """

    def __init__(self):
        self.token = int(time.time() * 1000) * 10**6 + secrets.randbelow(10**6)
        self.held = False
        self.beaten_at = 0.0  # time.monotonic() of the last beat

    def acquire(self):
        """True if this process may send; also True when the cache is down (fail-open)."""
        try:
            self.held = cache.add(SENDER_LOCK_KEY, self.token, settings.MAILER_SENDER_LOCK_TTL) or (
                _take_over_if_stale(self.token)
            )
        except CACHE_ERRORS as exc:
            logger.error("Sender lock unavailable, sending without it", extra={"error": str(exc)})
            return True
        self.beaten_at = time.monotonic()
        return self.held

    def _owned(self):
        try:
            return self.held and cache.get(SENDER_LOCK_KEY) == self.token
        except CACHE_ERRORS:
            return self.held  # cannot tell while the cache is down: keep going (fail-open)

    def beat(self):
        """Extends the lock if the last beat is BEAT_SECONDS old (cheap to call per message);
        False if the lock was lost."""
        if time.monotonic() - self.beaten_at < min(BEAT_SECONDS, settings.MAILER_SENDER_LOCK_GRACE / 4):
            return True
        return self.extend()

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
        self.beaten_at = time.monotonic()
        return True

    def release(self):
        if self._owned():
            try:
                cache.delete(SENDER_LOCK_KEY)
            except CACHE_ERRORS:
                pass  # it expires by its TTL
        self.held = False


BEAT_SECONDS = 10
# Sets the lock to ARGV[2] for ARGV[3] s if it is free, has no expiry, or its TTL left is at
# most ARGV[1] (its holder has not beaten for the grace): one atomic step, so of two senders
# taking over the same stale lock only one wins.
_TAKE_OVER = """
local ttl = redis.call('TTL', KEYS[1])
if ttl == -2 then
    return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX') and 1 or 0
end
if ttl == -1 or ttl <= tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
    return 1
end
return 0
"""


def _take_over_if_stale(token) -> bool:
    client = _redis_client(SENDER_LOCK_KEY)
    if client is None:
        return False  # the embedded database cache: no TTL to judge by
    ttl = settings.MAILER_SENDER_LOCK_TTL
    stale_at_most = ttl - settings.MAILER_SENDER_LOCK_GRACE
    taken = client.eval(_TAKE_OVER, 1, SENDER_LOCK_KEY, stale_at_most, token, ttl)
    if taken:
        logger.warning("Stale sender lock taken over", extra={"grace_seconds": settings.MAILER_SENDER_LOCK_GRACE})
    return bool(taken)


def clear_sender_lock(expected) -> bool:
    """Deletes the lock if it still holds `expected` (what the operator was shown)."""
    if cache.get(SENDER_LOCK_KEY) != expected:
        return False
    cache.delete(SENDER_LOCK_KEY)
    return True


def sender_lock_holder():
    """The current lock value, or None (free or unreadable): for status screens."""
    try:
        return cache.get(SENDER_LOCK_KEY)
    except CACHE_ERRORS:
        return None


def _redis_client(key: str):
    """The Redis client behind Django's cache, or None for another backend.

    The backend's own client (a private attribute): the same server and database the mailer
    writes to, whatever CACHES says. Keys are raw (config.cache.raw_key), so `key` is the
    key Redis sees.
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(key, write=True)
