"""Case-insensitive search of Cyrillic on SQLite, as on PostgreSQL.

SQLite's LIKE folds the case of ASCII letters only, so in the embedded demo «весен» did not
find «Весенняя» (Django's `icontains` is a LIKE there). Each new SQLite connection gets a LIKE
of our own that folds every letter; PostgreSQL is untouched.
"""

import functools
import re

from django.db.backends.signals import connection_created


@functools.lru_cache(maxsize=256)
def _pattern(like: str, escape: str | None) -> re.Pattern:
    parts, chars = [], iter(like)
    for char in chars:
        if escape and char == escape:
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def unicode_like(like, value, escape=None):
    if like is None or value is None:
        return None
    return _pattern(like, escape).fullmatch(str(value)) is not None


def install(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("like", 2, unicode_like, deterministic=True)
        connection.connection.create_function("like", 3, unicode_like, deterministic=True)


def connect():
    connection_created.connect(install, dispatch_uid="config.sqlite_unicode")
