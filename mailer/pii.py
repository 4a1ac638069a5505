"""Keeping e-mail addresses out of the logs.

Log records carry `email_domain`, `email_masked` and `email_hash` instead of an address; a
filter on every handler masks any address that slips into a message, an SMTP error text, an
extra of any type (Django's own request records carry the request, whose repr holds the
path) or a traceback — also URL-encoded (`%40`, `%2540`), as paths and query strings carry
them. gunicorn's logs go through the same filter (config/gunicorn_logging.py).
"""

import datetime
import decimal
import hashlib
import hmac
import logging
import re
import uuid

from django.conf import settings

EMAIL_PATTERN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# What `redact` masks: `@` also URL-encoded once or more (%40, %2540, …). The local part stops
# at URL punctuation (/ ? = & %), so `/search/?q=ivan@x.ru` keeps its path and parameter name.
_REDACTABLE = re.compile(r"(?P<local>[\w.!#$'*+^`{|}~-]+)(?P<at>@|%(?:25)*40)(?P<domain>[\w-]+(?:\.[\w-]+)+)")


def mask_email(email):
    """`ivan.petrov@example.ru` → `i***v@example.ru`; short local parts keep one letter."""
    local, _, domain = (email or "").partition("@")
    if not domain:
        return "***"
    if len(local) <= 2:
        return f"{local[:1]}***@{domain}"
    return f"{local[0]}***{local[-1]}@{domain}"


def email_hash(email):
    """A keyed hash: lets operators match log lines to an address they already know."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, (email or "").strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def email_log_fields(email):
    return {
        "email_domain": (email or "").rpartition("@")[2],
        "email_masked": mask_email(email),
        "email_hash": email_hash(email),
    }


def redact(text):
    return _REDACTABLE.sub(_mask_match, str(text))


def _mask_match(match):
    masked_local = mask_email(f"{match['local']}@x").partition("@")[0]
    return f"{masked_local}{match['at']}{match['domain']}"


def mask_query_values(target):
    """`/path?q=ivan&page=2` → `/path?q=***&page=***`: search terms are personal data, whatever
    they hold (names, phones, addresses), so access logs keep only the parameter names."""
    path, question, query = str(target).partition("?")
    if not question or not query:
        return target
    return f"{path}?{'&'.join(_mask_parameter(part) for part in query.split('&'))}"


def _mask_parameter(part):
    name, equals, _ = part.partition("=")
    return f"{name}=***" if equals else "***"


# Extras that cannot hold an address and that formatters print their own way (JSON: ISO dates).
_PLAIN_TYPES = (bool, int, float, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)


def _redact_value(value):
    """Strings and containers are redacted inside; numbers and dates stay; any other object (a
    request, an exception) becomes its redacted text, as a formatter would print it anyway."""
    if value is None or isinstance(value, _PLAIN_TYPES):
        return value
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_redact_value(item) for item in value]
    return redact(value)


_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Fields that look like addresses but are not (a Message-ID is `<local@domain>`) or are masked.
_NOT_ADDRESSES = {"email_masked", "email_hash", "smtp_message_id"}


def extra_fields(record):
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


class RedactEmailsFilter(logging.Filter):
    """Masks full addresses in a record's message, arguments, extras and traceback."""

    def filter(self, record):
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in extra_fields(record).items():
            if key not in _NOT_ADDRESSES:
                setattr(record, key, _redact_value(value))
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class KeyValueFormatter(logging.Formatter):
    """Readable lines for development: the message, then `key=value` for every extra field."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record):
        line = super().format(record)
        pairs = " ".join(f"{k}={_plain(v)}" for k, v in extra_fields(record).items())
        if not pairs:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {pairs}{newline}{rest}"


def _plain(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
