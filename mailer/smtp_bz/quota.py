"""The provider's monthly quota: synced from the smtp.bz API, spent by every send."""

import logging
from dataclasses import dataclass

from django.db.models import F

from mailer import transitions
from mailer.models import GlobalMailAccount, SmtpBzQuota
from mailer.smtp_bz import api

logger = logging.getLogger(__name__)


class QuotaSyncError(Exception):
    pass


@dataclass(frozen=True)
class QuotaFigures:
    emails_limit: int
    emails_available: int


def parse_user_payload(payload):
    """Maps `GET /user` to quota figures. smtp.bz documents the fields thinly; seen in the
    wild: `quota` (e-mails left this period, a number or {available|remaining, limit|total})
    and `tarif_quota` (the plan's monthly e-mails)."""
    if not isinstance(payload, dict):
        raise QuotaSyncError("ответ API не является объектом JSON")
    quota = payload.get("quota")
    nested = quota if isinstance(quota, dict) else {}
    available = _first_number(nested.get("available"), nested.get("remaining"), quota)
    limit = _first_number(payload.get("tarif_quota"), nested.get("limit"), nested.get("total"))
    if available is None:
        raise QuotaSyncError(f"в ответе API нет остатка квоты (поля: {api.keys_of(payload) or 'нет'})")
    return QuotaFigures(emails_limit=max(limit or 0, 0), emails_available=available)


def _first_number(*candidates):
    """The first candidate that reads as a count (`api.as_count`: no bools, no Infinity)."""
    return next((n for n in map(api.as_count, candidates) if n is not None), None)


def fetch_user(*, api_key):
    try:
        return api.call("/user", api_key=api_key)
    except api.ApiError as exc:
        raise QuotaSyncError(str(exc)) from exc


def sync_quota(*, now):
    """Stores the provider's figures in the current quota row; on failure records the error
    and keeps the last good figures. Then lets quota-deferred campaigns go on if e-mails are
    left. Returns the current row (None if the API key is not set and nothing was ever synced).
    """
    api_key = GlobalMailAccount.load().smtp_bz_api_key
    current = SmtpBzQuota.current()
    if api_key:
        current = _store(current, api_key=api_key, now=now)
    else:
        logger.info("smtp.bz API key is not set, quota not synced")
    if current and current.emails_available > 0:
        transitions.make_quota_deferred_due(now=now)  # the sender checks the gate again
    return current


def _store(current, *, api_key, now):
    row = current or SmtpBzQuota()
    try:
        payload = fetch_user(api_key=api_key)
        figures = parse_user_payload(payload)
    except QuotaSyncError as exc:
        row.sync_error = str(exc)
        row.save()
        logger.error("smtp.bz quota sync failed", extra={"error": str(exc)})
        return row
    row.emails_limit = figures.emails_limit
    row.emails_available = figures.emails_available
    row.last_synced_at = now
    row.sync_error = ""
    row.raw_payload = payload
    row.save()
    logger.info(
        "smtp.bz quota synced",
        extra={"emails_available": figures.emails_available, "emails_limit": figures.emails_limit},
    )
    return row


def consume(quota, count=1):
    """Spends `count` e-mails of the quota in one atomic decrement."""
    if quota is not None and count:
        SmtpBzQuota.objects.filter(pk=quota.pk).update(emails_available=F("emails_available") - count)
