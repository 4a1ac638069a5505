"""The sending rules as pure functions.

Nothing here reads the clock or the database: callers pass `now` (an aware datetime) and the
figures they measured, so every boundary (17:59:59, 18:00, the end of an hour or a month) is
a plain function call in the tests.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from mailer.models import CampaignQueue

Reason = CampaignQueue.DeferReason


@dataclass(frozen=True)
class Deferral:
    reason: str
    until: datetime  # when the gate opens


@dataclass(frozen=True)
class SendingBudget:
    """What is left to send right now, as measured by the caller."""

    hourly_sent: int
    hourly_limit: int
    owner_sent_today: int
    daily_limit: int  # 0: no daily limit
    quota_available: int | None  # None: the provider's quota was never synced


# Russian short names of the zones the mailer may run in; any other shows its own name.
ZONE_LABELS = {
    "Europe/Kaliningrad": "МСК−1",
    "Europe/Moscow": "МСК",
    "Europe/Samara": "МСК+1",
    "Asia/Yekaterinburg": "МСК+2",
    "Asia/Omsk": "МСК+3",
    "Asia/Novosibirsk": "МСК+4",
    "Asia/Krasnoyarsk": "МСК+4",
    "Asia/Irkutsk": "МСК+5",
    "Asia/Yakutsk": "МСК+6",
    "Asia/Vladivostok": "МСК+7",
    "Asia/Magadan": "МСК+8",
    "Asia/Kamchatka": "МСК+9",
}


def zone() -> ZoneInfo:
    """The mailer's time zone (Django's TIME_ZONE): working hours, "today", the hourly keys."""
    return ZoneInfo(settings.TIME_ZONE)


def zone_label() -> str:
    """What staff read after a time: «МСК» for Europe/Moscow."""
    return ZONE_LABELS.get(settings.TIME_ZONE, settings.TIME_ZONE)


def working_hours_label() -> str:
    """«09:00–18:00 МСК», from MAILER_WORKING_HOURS_START/END and the zone."""
    start, end = settings.MAILER_WORKING_HOURS_START, settings.MAILER_WORKING_HOURS_END
    return f"{start:02d}:00–{end:02d}:00 {zone_label()}"


def local_time(now: datetime) -> datetime:
    return now.astimezone(zone())


def is_working_hours(*, now: datetime) -> bool:
    if not settings.MAILER_WORKING_HOURS_ENABLED:
        return True
    hour = local_time(now).hour
    return settings.MAILER_WORKING_HOURS_START <= hour < settings.MAILER_WORKING_HOURS_END


def _at_opening(day: datetime) -> datetime:
    return day.replace(hour=settings.MAILER_WORKING_HOURS_START, minute=0, second=0, microsecond=0)


def next_working_start(*, now: datetime) -> datetime:
    """Opening time today if the working day has not begun yet, else tomorrow's."""
    local = local_time(now)
    opening = _at_opening(local)
    return opening if local < opening else next_day_start(now=now)


def next_day_start(*, now: datetime) -> datetime:
    return _at_opening(local_time(now) + timedelta(days=1))


def next_hour_start(*, now: datetime) -> datetime:
    return hour_start(now=now) + timedelta(hours=1)


def hour_start(*, now: datetime) -> datetime:
    return local_time(now).replace(minute=0, second=0, microsecond=0)


def slots_to_reserve(*, sent: int, limit: int, batch: int) -> int:
    """How many hourly slots a sender takes at once when `sent` of `limit` are used.

    A tenth of what the hour has left, at most `batch`, one at a time near the limit: a long
    run never holds the slots a test e-mail or an overlapping sender needs, and never more
    than the limit leaves.
    """
    left = limit - sent
    if left <= 0:
        return 0
    return max(1, min(batch, left // 10))


def day_start(*, now: datetime) -> datetime:
    return local_time(now).replace(hour=0, minute=0, second=0, microsecond=0)


def hour_label(*, now: datetime) -> str:
    """The hour a send counts against, in the mailer's time zone: `2026-11-30:10`."""
    return local_time(now).strftime("%Y-%m-%d:%H")


def first_blocking_gate(budget: SendingBudget, *, now: datetime) -> Deferral | None:
    """The first gate that stops sending now, as a Deferral, or None when all are open.

    Order matters: the reason staff see is the first one, and its time is when that gate opens.
    """
    if not is_working_hours(now=now):
        return Deferral(Reason.OUTSIDE_HOURS, next_working_start(now=now))
    if budget.quota_available is not None and budget.quota_available <= 0:
        # The quota only grows when it is synced, at the top of every hour.
        return Deferral(Reason.QUOTA_EXHAUSTED, next_hour_start(now=now))
    if budget.daily_limit and budget.owner_sent_today >= budget.daily_limit:
        return Deferral(Reason.DAILY_LIMIT, next_day_start(now=now))
    if budget.hourly_sent >= budget.hourly_limit:
        return Deferral(Reason.RATE_PER_HOUR, next_hour_start(now=now))
    return None


def trips_circuit_breaker(consecutive_transient_errors: int) -> bool:
    return consecutive_transient_errors >= settings.MAILER_CIRCUIT_BREAKER_THRESHOLD
