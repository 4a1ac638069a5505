"""The delivery-status sync: what smtp.bz's log says happened to our messages after the
hand-over (delivered, bounced and why, opened), recorded per recipient.

Runs every 15 minutes (tasks.sync_delivery_statuses) and does nothing without an API key.
It pages through `GET /log/message` for the last MAILER_DELIVERY_SYNC_DAYS days and matches
each item to a recipient by its Message-ID (or, failing that, by our campaign tag and the
address). A hard bounce puts the address on the suppression list (source `bounce`); a soft
one is only shown. An API error keeps every status as it was and is recorded with the time
of the last good pass, for the dashboard. Items it cannot read are logged without addresses.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from mailer import transitions
from mailer.delivery_models import RecipientDelivery
from mailer.engine import policy
from mailer.models import CampaignRecipient, GlobalMailAccount, Unsubscribe
from mailer.smtp_bz import api
from mailer.smtp_bz.delivery_log import (
    HARD,
    LogEntry,
    LogShapeError,
    bare_message_id,
    campaign_from_tag,
    parse_log_page,
)
from mailer.suppression import suppress

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
MAX_PAGES = 100  # 50 000 log items a pass: a bound in case the API ignores `offset`
CLOCK_SKEW = timedelta(days=1)  # how far ahead of ours the provider's clock may run


@dataclass
class SyncCounts:
    seen: int = 0
    recorded: int = 0
    unmatched: int = 0
    unreadable: int = 0
    waiting: int = 0
    suppressed: int = 0
    by_status: dict = field(default_factory=dict)


def sync_delivery_statuses(*, now: datetime) -> SyncCounts | None:
    """One pass; None when there is no API key. Never raises on what the API answers."""
    api_key = GlobalMailAccount.load().smtp_bz_api_key
    if not api_key:
        logger.info("smtp.bz API key is not set, delivery statuses not synced")
        return None
    try:
        counts = _walk(api_key=api_key, now=now)
    except (api.ApiError, LogShapeError) as exc:
        transitions.record_delivery_sync(now=now, error=str(exc))
        logger.error("smtp.bz delivery status sync failed", extra={"error": str(exc)})
        return None
    transitions.record_delivery_sync(now=now, counts=counts.__dict__)
    logger.info("smtp.bz delivery statuses synced", extra={f"delivery_{k}": v for k, v in counts.__dict__.items()})
    return counts


def _walk(*, api_key, now):
    since = now - timedelta(days=settings.MAILER_DELIVERY_SYNC_DAYS)
    local = policy.zone()
    query = {"from": f"{since.astimezone(local):%Y-%m-%d}", "to": f"{now.astimezone(local):%Y-%m-%d}"}
    counts, seen_ids, offset = SyncCounts(), set(), 0
    for _ in range(MAX_PAGES):
        payload = api.call("/log/message", api_key=api_key, query={**query, "limit": PAGE_SIZE, "offset": offset})
        page = parse_log_page(payload, zone=local, fallback_at=now)
        _log_unreadable(page.skipped)
        counts.seen += page.size
        counts.unreadable += len(page.skipped)
        counts.waiting += page.waiting
        new = [e for e in page.entries if (e.message_id or e.address, e.tag) not in seen_ids]
        seen_ids.update((e.message_id or e.address, e.tag) for e in page.entries)
        _record(new, counts=counts, now=now)
        offset += page.size
        # Only an empty page, the total reached, or a page of repeats ends the walk: a short
        # page may just mean the API caps pages below our limit.
        if not page.size or (page.total is not None and offset >= page.total) or (page.entries and not new):
            break
    return counts


def _record(entries: list[LogEntry], *, counts: SyncCounts, now: datetime) -> None:
    recipients = _match(entries)
    known = _known(recipients.values())
    for entry in entries:
        recipient = recipients.get(entry)
        if recipient is None:
            counts.unmatched += 1
            continue
        counts.by_status[entry.status] = counts.by_status.get(entry.status, 0) + 1
        if _nothing_new(entry, known.get(recipient.pk)):
            continue  # the usual case on every pass after the first: no write at all
        changed = transitions.record_delivery(
            recipient_id=recipient.pk,
            campaign_id=recipient.campaign_id,
            status=entry.status,
            status_at=_between_send_and_now(entry.status_at, recipient, now=now),
            reason=entry.reason,
            opened_at=entry.opened_at and _between_send_and_now(entry.opened_at, recipient, now=now),
            provider_id=entry.provider_id,
            now=now,
        )
        counts.recorded += changed
        if entry.status == HARD:
            _, created = suppress(recipient.email, source=Unsubscribe.Source.BOUNCE, campaign=recipient.campaign)
            counts.suppressed += created


def _between_send_and_now(moment, recipient, *, now):
    """No event precedes the send, and none comes from beyond a day of clock skew (that one
    is dated by this pass): the provider's year 1 (which the database stores but cannot give
    back) or its 2999 would break the report and every later pass, and stretch the chart over
    centuries."""
    if moment > now + CLOCK_SKEW:
        return now
    earliest = recipient.sent_at or now - timedelta(days=settings.MAILER_DELIVERY_SYNC_DAYS)  # the log's window
    return max(moment, earliest)


def _known(recipients):
    """What we already recorded for these recipients, in one query."""
    rows = RecipientDelivery.objects.filter(recipient__in=[r.pk for r in recipients])
    return {row.recipient_id: row for row in rows}


def _nothing_new(entry, row):
    if row is None:
        return False
    same_status = (row.status, row.reason) == (entry.status, entry.reason) or row.status == HARD
    return same_status and (entry.opened_at is None or row.opened_at is not None)


def _match(entries):
    """Entry → recipient: by Message-ID, else by our tag and the address; two queries a page."""
    by_id = _by_message_id({e.message_id for e in entries if e.message_id})
    tagged = {
        (campaign_from_tag(e.tag), e.address)
        for e in entries
        if e.message_id not in by_id and e.address and campaign_from_tag(e.tag)
    }
    by_tag = _by_campaign_and_address(tagged)
    found = {}
    for entry in entries:
        recipient = by_id.get(entry.message_id) or by_tag.get((campaign_from_tag(entry.tag), entry.address))
        if recipient is not None:
            found[entry] = recipient
    return found


def _by_message_id(ids):
    if not ids:
        return {}
    stored = [f"<{i}>" for i in ids] + list(ids)
    rows = CampaignRecipient.objects.filter(smtp_message_id__in=stored).select_related("campaign")
    return {bare_message_id(r.smtp_message_id): r for r in rows}


def _by_campaign_and_address(pairs):
    if not pairs:
        return {}
    campaigns, addresses = {c for c, _ in pairs}, {a for _, a in pairs}
    rows = CampaignRecipient.objects.filter(campaign_id__in=campaigns, email__in=addresses).select_related("campaign")
    return {(r.campaign_id, r.email): r for r in rows if (r.campaign_id, r.email) in pairs}


def _log_unreadable(skipped):
    for reason, keys in skipped:
        # The keys say what shape came; the values (addresses among them) stay out of the log.
        logger.warning("smtp.bz log item not understood", extra={"reason": reason, "item_keys": keys})
