"""Optional sync with smtp.bz's own suppression list (MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC).

smtp.bz refuses to deliver to addresses on its list, so importing them saves sends that
would fail anyway; with MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH our unsubscribes go to the provider
too, so a message sent around this product (another tool on the same account) respects them.
The push is stateless: after reading the provider's whole list we send only what it lacks.
With PUSH on, a new address also goes at once (push_one, a task enqueued by suppress()); and
an address staff take off our list comes off the provider's too (remove_at_provider), so the
next import does not bring it back.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

from mailer.addresses import is_valid_email, normalize_email
from mailer.models import GlobalMailAccount, Unsubscribe
from mailer.pii import email_log_fields
from mailer.smtp_bz import api
from mailer.suppression import suppress, suppressed_among

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
MAX_PAGES = 200  # 100 000 addresses: a bound in case the API ignores `offset`
PUSH_PER_RUN = 200  # the task is hourly; a large backlog drains over a few runs
LIST_KEYS = ("data", "items", "list", "result", "unsubscribe")
ADDRESS_KEYS = ("address", "email", "mail")


class ProviderListError(Exception):
    pass


@dataclass(frozen=True)
class ProviderPage:
    addresses: list  # normalised; items without a readable address are left out
    size: int  # items on the page, readable or not: how far `offset` moves
    total: int | None


@dataclass(frozen=True)
class SyncResult:
    provider_total: int = 0
    imported: int = 0
    invalid: int = 0
    pushed: int = 0
    error: str = ""


def parse_unsubscribe_page(payload):
    """Maps a `GET /unsubscribe` answer to a page. smtp.bz documents it thinly; seen in the
    wild: `{"data": [{"address": …, …}], "total": N}`. Also accepted: a bare list, `data`
    nested one level deeper, items as plain strings or naming the address `email`/`mail`."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = {"total": payload.get("total"), **payload["data"]}
    if isinstance(payload, list):
        items, total = payload, None
    elif isinstance(payload, dict):
        items = next((payload[key] for key in LIST_KEYS if isinstance(payload.get(key), list)), None)
        if items is None:
            raise ProviderListError(f"no list in the answer (keys: {api.keys_of(payload) or 'none'})")
        total = api.as_count(payload.get("total"))
    else:
        raise ProviderListError("the answer is not a JSON object or list")
    addresses = [normalize_email(a) for a in map(_item_address, items) if a]
    return ProviderPage(addresses=addresses, size=len(items), total=total)


def _item_address(item):
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return next((item[key] for key in ADDRESS_KEYS if isinstance(item.get(key), str)), None)
    return None


def fetch_provider_list(*, api_key):
    """Every address on the provider's list, page by page. Raises ProviderListError or
    api.ApiError."""
    found, offset = set(), 0
    for _ in range(MAX_PAGES):
        query = {"limit": PAGE_SIZE, "offset": offset}
        page = parse_unsubscribe_page(api.call("/unsubscribe", api_key=api_key, query=query))
        before = len(found)
        found.update(page.addresses)
        offset += page.size
        # No `total` and a short page may still mean the API caps pages below our limit:
        # only an empty page, the total reached, or a page of repeats ends the walk.
        if not page.size or (page.total is not None and offset >= page.total) or len(found) == before:
            break
    return found


def sync_provider_suppression():
    """Does nothing unless MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC is on and an API key is set.
    Returns a SyncResult, or None when it did nothing."""
    if not settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC:
        return None
    api_key = GlobalMailAccount.load().smtp_bz_api_key
    if not api_key:
        logger.info("smtp.bz API key is not set, suppression list not synced")
        return None
    try:
        provider = fetch_provider_list(api_key=api_key)
    except (ProviderListError, api.ApiError) as exc:
        logger.error("smtp.bz suppression list sync failed", extra={"error": str(exc)})
        return SyncResult(error=str(exc))
    imported, invalid = import_provider_addresses(provider)
    pushed = push_missing(provider, api_key=api_key) if settings.MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH else 0
    counts = {"provider_total": len(provider), "imported": imported, "invalid": invalid, "pushed": pushed}
    logger.info("smtp.bz suppression list synced", extra=counts)
    return SyncResult(**counts)


def import_provider_addresses(addresses):
    """Adds the provider's addresses we lack (source `provider`); returns (added, invalid)."""
    valid = {a for a in addresses if is_valid_email(a)}
    missing = sorted(valid - suppressed_among(valid))
    for email in missing:
        suppress(email, source=Unsubscribe.Source.PROVIDER)
    return len(missing), len(addresses) - len(valid)


def push_missing(provider, *, api_key):
    """Sends the provider our addresses it lacks (never its own back); stops at the first
    failure, as the next ones would most likely fail the same way. Returns how many went."""
    ours = Unsubscribe.objects.exclude(source=Unsubscribe.Source.PROVIDER).values_list("email", flat=True)
    missing = sorted(set(ours) - provider)[:PUSH_PER_RUN]
    for pushed, email in enumerate(missing):
        try:
            api.call("/unsubscribe/add", api_key=api_key, form={"address": email})
        except api.ApiError as exc:
            extra = {**email_log_fields(email), "error": str(exc)}
            logger.error("smtp.bz refused an unsubscribe", extra=extra)
            return pushed
    return len(missing)


def push_enabled():
    return settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC and settings.MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH


def push_one(email):
    """`unsubscribe/add` for one new address (the hourly sync retries what fails here)."""
    api_key = GlobalMailAccount.load().smtp_bz_api_key
    if not (push_enabled() and api_key):
        return False
    try:
        api.call("/unsubscribe/add", api_key=api_key, form={"address": email})
    except api.ApiError as exc:
        logger.error("smtp.bz refused an unsubscribe", extra={**email_log_fields(email), "error": str(exc)})
        return False
    return True


def remove_at_provider(emails):
    """`unsubscribe/remove` for each address (whenever an API key is set: the provider would
    otherwise go on refusing mail to it). Returns the Russian error for staff, or ""."""
    api_key = GlobalMailAccount.load().smtp_bz_api_key
    if not api_key:
        return ""
    for email in emails:
        try:
            api.call("/unsubscribe/remove", api_key=api_key, form={"address": email})
        except api.ApiError as exc:
            logger.error("smtp.bz did not remove an unsubscribe", extra={**email_log_fields(email), "error": str(exc)})
            return str(exc)
    return ""
