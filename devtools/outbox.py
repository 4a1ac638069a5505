"""The dev mail catcher's outbox: one .eml file per message in MAIL_CATCHER_DIR.

The catcher writes here and the admin's «Исходящие (dev)» reads; nothing else touches it.
File names start with the UTC time of arrival, so sorting by name sorts by time.
"""

import email
import email.policy
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from django.conf import settings
from django.utils import timezone

FILE_NAME = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{8}\.eml$")
LIST_LIMIT = 200  # the newest ones; a dev outbox is read, not archived


@dataclass(frozen=True)
class Summary:
    name: str
    sender: str
    to: str
    subject: str
    date: datetime | None
    size: int


@dataclass(frozen=True)
class Message:
    summary: Summary
    headers: list  # [(name, value)] in the order they came
    text: str
    html: str
    attachments: list  # file names


def directory():
    return Path(settings.MAIL_CATCHER_DIR)


def save(content, *, envelope_from, envelope_to, folder=None):
    """Stores one message; the envelope goes first as headers (it may differ from To/Cc)."""
    folder = Path(folder or directory())
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
    envelope = f"X-Envelope-From: {envelope_from}\r\nX-Envelope-To: {', '.join(envelope_to)}\r\n"
    partial = folder / f".{name}.part"
    partial.write_bytes(envelope.encode() + content)
    partial.rename(folder / name)  # atomic: the admin never reads half a message
    return folder / name


def recent(limit=LIST_LIMIT):
    """The newest messages first, read from their headers only."""
    paths = sorted(_paths(), reverse=True)[:limit]
    return [_summary(path, _parse_headers(path)) for path in paths]


def count():
    return sum(1 for _ in _paths())


def read(name):
    """The whole message, or None when there is no such file (or the name is not ours)."""
    if not FILE_NAME.match(name or ""):
        return None
    path = directory() / name
    if not path.is_file():
        return None
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return Message(
        summary=_summary(path, parsed),
        headers=[(key, str(value)) for key, value in parsed.items()],
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
        attachments=[part.get_filename() or "без имени" for part in parsed.iter_attachments()],
    )


def _paths():
    folder = directory()
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if FILE_NAME.match(path.name)]


def _parse_headers(path):
    with path.open("rb") as stream:
        return BytesHeaderParser(policy=email.policy.default).parse(stream)


def _summary(path, message):
    date = message["Date"]
    return Summary(
        name=path.name,
        sender=str(message["From"] or ""),
        to=str(message["To"] or message["X-Envelope-To"] or ""),
        subject=str(message["Subject"] or ""),
        date=_aware(getattr(date, "datetime", None)),
        size=path.stat().st_size,
    )


def _aware(moment):
    # "-0000" (Django's own Date header) parses as naive: RFC 5322 means UTC, zone unknown.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _body(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    return part.get_content()
