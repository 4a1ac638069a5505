"""Secrets at rest: the SMTP password and the smtp.bz API key, encrypted with Fernet.

The key is MAILER_SECRETS_KEY (production refuses to start without it; a local DEBUG run
keeps one under DATA_DIR). Several keys, comma-separated, rotate: the first encrypts, all
decrypt. Python code sees the plain text. A stored value no key decrypts reads as an
UnreadableSecret — truthy, never an empty password — and `reveal()` turns it into a Russian
refusal that says what to do; saving the row keeps it as it was stored.
"""

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from mailer.exceptions import MailerError

PREFIX = "fernet:"  # marks a stored value as ours: anything else was written around the app


class SecretUnreadable(MailerError):
    """A stored secret cannot be used; the message is for staff."""


@dataclass(frozen=True)
class UnreadableSecret:
    stored: str
    label: str  # the field's name as staff see it
    reason: str

    def __bool__(self):
        return True  # a value is stored, it just cannot be read

    def refusal(self) -> str:
        return (
            f"Не удаётся расшифровать поле «{self.label}» в «Настройках почты»: {self.reason}. "
            "Введите значение заново или верните прежний MAILER_SECRETS_KEY."
        )


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.MAILER_SECRETS_KEY.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("MAILER_SECRETS_KEY is not set: stored mail secrets cannot be read or written.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "MAILER_SECRETS_KEY must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes, e.g. from Fernet.generate_key())."
        ) from exc


def encrypt(plain: str) -> str:
    return PREFIX + _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(stored: str, *, label: str) -> "str | UnreadableSecret":
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        return UnreadableSecret(stored, label, "значение хранится без шифрования (записано в обход приложения)")
    try:
        return _fernet().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        return UnreadableSecret(
            stored, label, "ключ MAILER_SECRETS_KEY не подходит (значение зашифровано другим ключом)"
        )


def reveal(value: "str | UnreadableSecret") -> str:
    """The plain text, or a SecretUnreadable refusal: never an empty string in its place."""
    if isinstance(value, UnreadableSecret):
        raise SecretUnreadable(value.refusal())
    return value


class EncryptedField(models.TextField):
    """Stores Fernet ciphertext, gives the plain text. `max_length` bounds the plain text in
    forms; the column is text, as ciphertext is longer."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value, label=str(self.verbose_name)) if value is not None else value

    def to_python(self, value):
        return value if isinstance(value, UnreadableSecret) else super().to_python(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value.stored  # saving other fields must not destroy what is stored
        value = super().get_prep_value(value)
        return encrypt(value) if value else value

    def formfield(self, **kwargs):
        # A one-line input bounded like the plain CharField it replaces, not a textarea.
        return models.Field.formfield(self, **{"max_length": self.max_length, **kwargs})
