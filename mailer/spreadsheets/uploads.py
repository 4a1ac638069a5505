"""Where an import's file waits between the preview and «Подтвердить импорт».

Files live in `MAILER_IMPORT_UPLOAD_DIR` (under DATA_DIR, never served), under random names.
The confirm form gets a name *issued* to the uploading user: the file's token and the user's
id, signed with a timestamp. The confirm step reads only a name it issued to that same user
within the hour; a posted path, another manager's name or an old one is refused. Files go
away after the confirm, and a periodic task removes what nobody confirmed within the hour.
"""

import os
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core import signing
from import_export.tmp_storages import BaseStorage

from mailer.exceptions import MailerError

UPLOAD_TTL = timedelta(hours=1)
TOKEN = re.compile(r"[0-9a-f]{32}")
SALT = "mailer.import_uploads"  # the module's old name: issued upload names stay valid

UNKNOWN_UPLOAD = "Файл для импорта не найден. Загрузите его заново."
EXPIRED_UPLOAD = "Загруженный файл устарел: подтвердить импорт можно в течение часа. Загрузите файл заново."


class UploadRefused(MailerError):
    pass


def upload_dir() -> Path:
    return Path(settings.MAILER_IMPORT_UPLOAD_DIR)


def issue_name(token: str, *, user) -> str:
    """What the confirm form carries: valid for `user`, for UPLOAD_TTL."""
    return signing.TimestampSigner(salt=SALT).sign(f"{user.pk}.{token}")


def redeem_name(name: str, *, user) -> str:
    """The token behind an issued name, if it was issued to `user` within the hour."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(name, max_age=UPLOAD_TTL)
    except signing.SignatureExpired as exc:
        raise UploadRefused(EXPIRED_UPLOAD) from exc
    except signing.BadSignature as exc:
        raise UploadRefused(UNKNOWN_UPLOAD) from exc
    owner, _, token = value.partition(".")
    # Another manager's name reads as unknown: whether it exists is none of this user's business.
    if owner != str(user.pk) or not TOKEN.fullmatch(token) or not (upload_dir() / token).is_file():
        raise UploadRefused(UNKNOWN_UPLOAD)
    return token


def remove_stale_uploads(*, now: datetime) -> int:
    """Removes the files nobody confirmed within UPLOAD_TTL; returns how many."""
    oldest_kept = now - UPLOAD_TTL
    removed = 0
    for path in _uploads():
        try:
            uploaded_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except FileNotFoundError:
            continue  # confirmed meanwhile
        if uploaded_at < oldest_kept:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _uploads():
    if not upload_dir().is_dir():
        return []
    return [path for path in upload_dir().iterdir() if TOKEN.fullmatch(path.name)]


class PrivateUploadStorage(BaseStorage):
    """django-import-export's temporary storage, for files only this module names.

    It always reads bytes (the formats decode them themselves) and refuses any name that is
    not one of its tokens, so nothing outside its directory can be read or removed.
    """

    def save(self, data: bytes) -> None:
        self.save_chunks([data])

    def save_chunks(self, chunks: Iterable[bytes]) -> None:
        directory = upload_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.name = secrets.token_hex(16)
        descriptor = os.open(directory / self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)

    def read(self) -> bytes:
        try:
            with open(self._path(), "rb") as file:
                return file.read()
        except FileNotFoundError as exc:  # confirmed twice, or removed as stale meanwhile
            raise UploadRefused(UNKNOWN_UPLOAD) from exc

    def remove(self) -> None:
        self._path().unlink(missing_ok=True)

    def _path(self) -> Path:
        if not TOKEN.fullmatch(self.name or ""):
            raise UploadRefused(UNKNOWN_UPLOAD)
        return upload_dir() / self.name
