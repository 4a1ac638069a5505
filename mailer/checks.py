"""System checks: what the mailer's public side needs, a usable secrets key, and sending rules
whose settings make sense (working hours, time zone, rates, the sender lock)."""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from mailer import stored_secrets


@checks.register(checks.Tags.security)
def check_secrets_key(app_configs, **kwargs):
    # Found at `check`/`migrate` time rather than at the first send or settings save.
    try:
        stored_secrets.encrypt("check")
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="mailer.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_public_base_url_is_https(app_configs, **kwargs):
    # RFC 8058: mail clients offer one-click unsubscribe only for an HTTPS link, and
    # Gmail / Yahoo require one-click from bulk senders.
    if settings.MAILER_PUBLIC_BASE_URL.lower().startswith("https://"):
        return []
    return [
        checks.Warning(
            "MAILER_PUBLIC_BASE_URL is not an https:// URL: unsubscribe links in the "
            "List-Unsubscribe header will not qualify for RFC 8058 one-click unsubscribe.",
            hint="Set MAILER_PUBLIC_BASE_URL to the public https:// address of this site.",
            id="mailer.W001",
        )
    ]


# --- the sending rules' settings: refuse what would quietly break a gate ----------------------

# Settings that count something per hour, per run or in all: each must be at least 1.
AT_LEAST_ONE = (
    "MAILER_RATE_PER_HOUR",
    "MAILER_MAX_CAMPAIGN_RECIPIENTS",
    "MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR",
    "MAILER_THROTTLE_TEST_EMAIL_PER_HOUR",
    "MAILER_CIRCUIT_BREAKER_THRESHOLD",
    "MAILER_STUCK_AFTER_MINUTES",
)
POSITIVE_SECONDS = ("MAILER_SMTP_TIMEOUT", "MAILER_SMTP_BZ_API_TIMEOUT", "MAILER_TEMPLATE_RENDER_SECONDS")
RATE_FORMAT = re.compile(r"^\d+/[smhd]$")


@checks.register()
def check_working_hours(app_configs, **kwargs):
    start, end = settings.MAILER_WORKING_HOURS_START, settings.MAILER_WORKING_HOURS_END
    if 0 <= start < end <= 24:
        return []
    return [
        checks.Error(
            f"MAILER_WORKING_HOURS_START={start} and MAILER_WORKING_HOURS_END={end} are not a working day: "
            "they must be whole hours with 0 <= START < END <= 24.",
            hint="E.g. MAILER_WORKING_HOURS_START=9 and MAILER_WORKING_HOURS_END=18; to send around the clock "
            "set MAILER_WORKING_HOURS_ENABLED=false instead.",
            id="mailer.E002",
        )
    ]


@checks.register()
def check_time_zone(app_configs, **kwargs):
    try:
        ZoneInfo(settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"TIME_ZONE={settings.TIME_ZONE!r} is not a time zone: working hours and the hourly "
                "limit are counted in it.",
                hint="An IANA name such as Europe/Moscow.",
                id="mailer.E003",
            )
        ]
    return []


@checks.register()
def check_rates(app_configs, **kwargs):
    errors = [
        checks.Error(f"{name}={getattr(settings, name)} must be at least 1.", id="mailer.E004")
        for name in AT_LEAST_ONE
        if getattr(settings, name) < 1
    ]
    errors += [
        checks.Error(f"{name}={getattr(settings, name)} must be more than 0 seconds.", id="mailer.E004")
        for name in POSITIVE_SECONDS
        if getattr(settings, name) <= 0
    ]
    if not RATE_FORMAT.match(settings.MAILER_UNSUBSCRIBE_RATE_LIMIT):
        errors.append(
            checks.Error(
                f"MAILER_UNSUBSCRIBE_RATE_LIMIT={settings.MAILER_UNSUBSCRIBE_RATE_LIMIT!r} is not a rate.",
                hint="A count per second, minute, hour or day: 30/m, 500/h.",
                id="mailer.E004",
            )
        )
    return errors + _lock_errors()


def _lock_errors():
    ttl, grace = settings.MAILER_SENDER_LOCK_TTL, settings.MAILER_SENDER_LOCK_GRACE
    if not 0 < grace < ttl:
        return [
            checks.Error(
                f"MAILER_SENDER_LOCK_GRACE={grace} must be more than 0 and less than MAILER_SENDER_LOCK_TTL={ttl}.",
                id="mailer.E005",
            )
        ]
    if grace < 2 * settings.MAILER_SMTP_TIMEOUT:
        return [
            checks.Warning(
                f"MAILER_SENDER_LOCK_GRACE={grace} s is shorter than two SMTP timeouts "
                f"(MAILER_SMTP_TIMEOUT={settings.MAILER_SMTP_TIMEOUT} s): a sender waiting on a slow server "
                "may have its lock taken over and its claim marked interrupted.",
                id="mailer.W002",
            )
        ]
    return []
