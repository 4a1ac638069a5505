"""Calls to the smtp.bz HTTP API: the base URL, the key header, the timeout and the errors
in one place, for the quota sync and the suppression-list sync alike."""

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from mailer.pii import redact
from mailer.stored_secrets import SecretUnreadable, reveal

# A page of the message log is well under a megabyte; more is not an answer to read into memory.
MAX_ANSWER_BYTES = 16 * 2**20


class ApiError(Exception):
    """The message is Russian: staff read it (e.g. as the quota's sync error)."""


def call(path, *, api_key, query=None, form=None):
    """GET `path` (or POST `form`, url-encoded, when given); returns the JSON answer, or
    None when the body is empty. Raises ApiError on any failure."""
    url = settings.MAILER_SMTP_BZ_API_URL.rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        api_key = reveal(api_key)
    except SecretUnreadable as exc:
        raise ApiError(str(exc)) from exc
    # smtp.bz takes the bare key, no "Bearer" scheme.
    headers = {"Authorization": api_key, "Accept": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=settings.MAILER_SMTP_BZ_API_TIMEOUT) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ApiError(f"API smtp.bz ответил {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ApiError(f"API smtp.bz недоступен: {getattr(exc, 'reason', exc)}") from exc
    if len(body) > MAX_ANSWER_BYTES:
        raise ApiError(f"API smtp.bz вернул слишком большой ответ (больше {MAX_ANSWER_BYTES // 1024} КБ)")
    if not body.strip():
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: «[[[[…» nested past Python's stack
        raise ApiError("API smtp.bz вернул не JSON") from exc


def as_count(value):
    """A count from a loosely typed answer: an int or a digit string; None for anything else
    (JSON's true is not 1; Python's JSON reads Infinity, which no int holds)."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def keys_of(payload: dict) -> str:
    """The keys of an answer, for an error staff read: redacted, as an answer keyed by address
    must not name anyone on a screen."""
    return ", ".join(redact(key) for key in sorted(payload))
