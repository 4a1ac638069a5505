"""Reading smtp.bz's message log (`GET /log/message`): pure functions, no ORM, no clock.

smtp.bz documents the answer thinly, so every field is looked up under the names seen in
public clients and a few likely ones; the shapes this product relies on are in
docs/smtp-bz-api.md. An item that cannot be read becomes `None` with the reason, for the log
(never with its address), and the walk goes on.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailer.addresses import normalize_email
from mailer.smtp_bz.api import as_count, keys_of

LIST_KEYS = ("data", "items", "list", "messages", "result", "log")
ID_KEYS = ("message_id", "messageId", "message-id", "Message-ID", "msgid", "mid")
ADDRESS_KEYS = ("to", "email", "address", "rcpt", "recipient")
STATUS_KEYS = ("status", "state", "result")
TIME_KEYS = ("date", "status_date", "updated_at", "created_at", "time", "sent_at")
OPEN_KEYS = ("is_open", "opened", "open")
OPEN_TIME_KEYS = ("open_date", "opened_at", "date_open")
REASON_KEYS = ("bounce_reason", "reason", "response", "answer", "smtp_answer", "error", "message")
KIND_KEYS = ("bounce_type", "bounce_kind", "type")

DELIVERED, SOFT, HARD = "delivered", "soft_bounce", "hard_bounce"
STATUS_WORDS = {
    DELIVERED: {"delivered", "deliver", "sent", "send", "success", "ok", "done", "opened", "open"},
    SOFT: {"soft_bounce", "softbounce", "soft", "deferred", "defer", "return", "returned", "delayed", "temporary"},
    HARD: {"bounce", "bounced", "hard_bounce", "hardbounce", "hard", "failed", "fail", "rejected", "reject", "invalid"},
}
# Not an outcome yet: the next pass will see it again.
WAITING_WORDS = {"queued", "queue", "pending", "processing", "wait", "waiting", "new", "sending"}
TAG_PREFIX = "crm-campaign-"
_SMTP_CODE = re.compile(r"\b([245])[0-9]{2}\b")


class LogShapeError(Exception):
    """The answer as a whole is unreadable (not one item of it)."""


@dataclass(frozen=True)
class LogEntry:
    message_id: str  # without the angle brackets
    address: str  # normalised, or empty
    tag: str
    status: str  # DELIVERED, SOFT or HARD
    status_at: datetime
    reason: str
    opened_at: datetime | None
    provider_id: str


@dataclass(frozen=True)
class LogPage:
    entries: list  # LogEntry
    skipped: list  # (reason, the item's keys): what could not be read, for the log
    waiting: int  # items with no outcome yet
    size: int  # items on the page, read or not: how far `offset` moves
    total: int | None


def campaign_tag(campaign_id: int) -> str:
    """The tag a campaign's messages carry (header X-Tag), and its log search term."""
    return f"{TAG_PREFIX}{campaign_id}"


def campaign_from_tag(tag: str) -> int | None:
    # ASCII digits only and a bigint's length: str.isdigit() also passes «²», which int() refuses.
    digits = tag[len(TAG_PREFIX) :] if isinstance(tag, str) and tag.startswith(TAG_PREFIX) else ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None


def bare_message_id(value) -> str:
    return value.strip().strip("<>").strip() if isinstance(value, str) else ""


def parse_log_page(payload, *, zone: ZoneInfo, fallback_at: datetime) -> LogPage:
    """One answer of `GET /log/message`. Times without a zone are the provider's local time
    (`zone`); an item with an outcome but no readable time gets `fallback_at` (the sync's now)."""
    items, total = _items(payload)
    entries, skipped, waiting = [], [], 0
    for item in items:
        entry = parse_log_item(item, zone=zone, fallback_at=fallback_at)
        if isinstance(entry, LogEntry):
            entries.append(entry)
        elif entry == "waiting":
            waiting += 1
        else:
            skipped.append((entry, sorted(item) if isinstance(item, dict) else type(item).__name__))
    return LogPage(entries=entries, skipped=skipped, waiting=waiting, size=len(items), total=total)


def _items(payload):
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = {"total": payload.get("total"), **payload["data"]}
    if isinstance(payload, list):
        return payload, None
    if not isinstance(payload, dict):
        raise LogShapeError("ответ журнала smtp.bz — не объект и не список")
    items = next((payload[key] for key in LIST_KEYS if isinstance(payload.get(key), list)), None)
    if items is None:
        raise LogShapeError(f"в ответе журнала smtp.bz нет списка (поля: {keys_of(payload) or 'нет'})")
    return items, as_count(_first(payload, ("total", "count")))


def parse_log_item(item, *, zone: ZoneInfo, fallback_at: datetime):
    """A LogEntry, "waiting" (no outcome yet), or the reason it cannot be read."""
    if not isinstance(item, dict):
        return "not an object"
    message_id = bare_message_id(_first(item, ID_KEYS))
    address = _first(item, ADDRESS_KEYS)
    address = normalize_email(address) if isinstance(address, str) and "@" in address else ""
    tag = _first(item, ("tag",))
    if not message_id and not (address and campaign_from_tag(tag)):
        return "no Message-ID and no address with our tag"
    opened = _truthy(_first(item, OPEN_KEYS))
    opened_at = _time(_first(item, OPEN_TIME_KEYS), zone)
    reason = _text(_first(item, REASON_KEYS))
    status = _status(_first(item, STATUS_KEYS), kind=_first(item, KIND_KEYS), reason=reason)
    if status is None and (opened or opened_at):
        status = DELIVERED  # an open implies the message arrived
    if status == "waiting":
        return "waiting"
    if status is None:
        return "unknown status"
    status_at = _time(_first(item, TIME_KEYS), zone) or fallback_at
    if opened and opened_at is None:
        opened_at = status_at
    return LogEntry(
        message_id=message_id,
        address=address,
        tag=tag if isinstance(tag, str) else "",
        status=status,
        status_at=status_at,
        reason=reason if status != DELIVERED else "",
        opened_at=opened_at if status == DELIVERED else None,
        provider_id=_text(item.get("id"))[:64],
    )


def _status(value, *, kind, reason):
    word = str(value).strip().lower().replace("-", "_").replace(" ", "_") if value not in (None, "") else ""
    if word in WAITING_WORDS:
        return "waiting"
    status = next((name for name, words in STATUS_WORDS.items() if word in words), None)
    if status in (SOFT, HARD):
        # An explicit kind wins; else the SMTP reply's class: 4xx is temporary, 5xx permanent.
        kind_word = str(kind or "").lower()
        if "soft" in kind_word or "temp" in kind_word:
            return SOFT
        if "hard" in kind_word or "perm" in kind_word:
            return HARD
        code = _SMTP_CODE.search(reason)
        if code:
            return SOFT if code.group(1) == "4" else HARD
    return status


def _first(item, keys):
    return next((item[key] for key in keys if item.get(key) not in (None, "")), None)


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y"}
    return bool(value) and not isinstance(value, dict | list)


def _text(value):
    return " ".join(str(value).split())[:1000] if value not in (None, "") and not isinstance(value, dict | list) else ""


def _time(value, zone):
    """ISO 8601, `YYYY-MM-DD HH:MM:SS` or a Unix timestamp; None when unreadable."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value), tz=zone)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
