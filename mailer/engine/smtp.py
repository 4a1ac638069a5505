"""The SMTP connection and what its errors mean. Only the sending pipeline uses it."""

import re
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

from mailer.stored_secrets import reveal

PERMANENT = "permanent"
TRANSIENT = "transient"

_UNKNOWN_USER = re.compile(
    r"\b5\.1\.\d\b|user unknown|unknown user|no such user|does not exist|mailbox not found",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SendFailure:
    kind: str  # PERMANENT: this address will not work; TRANSIENT: try again later
    text: str
    unknown_user: bool = False


def _decode(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def classify_smtp_error(exc):
    """Maps an exception from sending one message to a SendFailure."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        return _by_code(code, _decode(reply))
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)):
        # The account, not the address, is refused: every message would fail the same way.
        return SendFailure(TRANSIENT, f"{exc.smtp_code} {_decode(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, _decode(exc.smtp_error))
    return SendFailure(TRANSIENT, f"{type(exc).__name__}: {exc}".strip().rstrip(":"))


def _by_code(code, reply):
    text = f"{code} {reply}".strip()
    if code is not None and code >= 500:
        return SendFailure(PERMANENT, text, unknown_user=bool(_UNKNOWN_USER.search(reply)))
    return SendFailure(TRANSIENT, text)


class SmtpConnection:
    """One SMTP connection reused for a whole batch, reopened after it breaks."""

    def __init__(self, account):
        self.account = account
        self._backend = None

    def send(self, message):
        """Sends one message; raises the SMTP or socket error when it fails."""
        if self._backend is None:
            self._backend = self._open()
        try:
            self._backend.send_messages([message])
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server answered: the connection is still good (smtplib sent RSET)
        except OSError:
            self.close()
            raise

    def _open(self):
        account = self.account
        backend = EmailBackend(
            host=account.smtp_host,
            port=account.smtp_port,
            username=account.smtp_username,
            password=reveal(account.smtp_password),  # an unreadable one refuses, never sends ""
            use_tls=account.use_tls,
            use_ssl=account.use_ssl,
            timeout=settings.MAILER_SMTP_TIMEOUT,
            fail_silently=False,
        )
        backend.open()
        return backend

    def close(self):
        backend, self._backend = self._backend, None
        if backend is not None:
            try:
                backend.close()
            except OSError:
                pass  # closing a broken connection: nothing left to save

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
