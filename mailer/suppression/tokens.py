"""Signed unsubscribe tokens.

A token names a recipient row by its id, never an address, and is signed with its own salt,
so a tampered, truncated or foreign token is refused. Test sends get a token that opens
the page but unsubscribes nobody.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailer.unsubscribe.v1"


class BadToken(Exception):
    pass


@dataclass(frozen=True)
class UnsubscribeToken:
    recipient_id: int | None
    is_test: bool


def _signer():
    return signing.Signer(salt=SALT)


def make_token(recipient_id):
    return _signer().sign_object({"r": int(recipient_id)})


def make_test_token(campaign_id):
    return _signer().sign_object({"t": int(campaign_id)})


def read_token(token):
    try:
        payload = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError, UnicodeDecodeError) as exc:
        raise BadToken from exc
    if not isinstance(payload, dict):
        raise BadToken
    if isinstance(payload.get("r"), int):
        return UnsubscribeToken(recipient_id=payload["r"], is_test=False)
    if isinstance(payload.get("t"), int):
        return UnsubscribeToken(recipient_id=None, is_test=True)
    raise BadToken


def unsubscribe_url(token):
    base = settings.MAILER_PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("unsubscribe", args=[token])
