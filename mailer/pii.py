"""Keeping e-mail addresses out of the logs.

Log records carry `email_domain`, `email_masked` and `email_hash` instead of an address; a
filter on every handler masks any address that slips into a message or an SMTP error text.
"""

import hashlib
import hmac
import logging
import re

from django.conf import settings

EMAIL_PATTERN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


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
    return EMAIL_PATTERN.sub(lambda match: mask_email(match.group(0)), str(text))


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
            if isinstance(value, str) and key not in _NOT_ADDRESSES:
                setattr(record, key, redact(value))
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
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
