"""E-mail addresses as the mailer stores them: trimmed and lower-case, so one person is one row."""

from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def normalize_email(value):
    return (value or "").strip().lower()


@lru_cache(maxsize=20_000)  # an import checks each address in its preview, its scan and add_recipients
def is_valid_email(value):
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True
