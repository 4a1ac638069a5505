"""The SMTP connection: one per run, reopened when the server closed it, and every failure
told with the stage it happened at (mailer.engine.smtp_errors says who is to blame)."""

import smtplib

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

from mailer.engine.compose import Prepared
from mailer.engine.smtp_errors import SendFailure, Stage, classify
from mailer.stored_secrets import reveal


def _step(stage: str, name: str):
    """smtplib's method `name`, first noting that the conversation is at `stage`."""

    def method(self, *args, **kwargs):
        self.stage = stage
        return getattr(super(_StageTracking, self), name)(*args, **kwargs)

    return method


def _step_after_greeting(stage: str, name: str):
    """The same for steps that greet the server first (EHLO is a stage of its own)."""

    def method(self, *args, **kwargs):
        self.ehlo_or_helo_if_needed()
        self.stage = stage
        return getattr(super(_StageTracking, self), name)(*args, **kwargs)

    return method


class _StageTracking:
    """smtplib's client remembering the step it is at, so a failure names its stage.

    `AFTER_DATA` begins once the message itself has been written to the socket: from then on
    a lost connection leaves the outcome unknown.
    """

    stage = Stage.CONNECT
    connect = _step(Stage.CONNECT, "connect")
    ehlo = _step(Stage.EHLO, "ehlo")
    helo = _step(Stage.EHLO, "helo")
    starttls = _step_after_greeting(Stage.STARTTLS, "starttls")
    login = _step_after_greeting(Stage.AUTH, "login")
    mail = _step(Stage.MAIL, "mail")
    rcpt = _step(Stage.RCPT, "rcpt")
    data = _step(Stage.DATA, "data")

    def send(self, s):
        super().send(s)
        if self.stage == Stage.DATA and isinstance(s, bytes):  # the message, not a command
            self.stage = Stage.AFTER_DATA


class _SMTP(_StageTracking, smtplib.SMTP):
    pass


class _SMTP_SSL(_StageTracking, smtplib.SMTP_SSL):
    pass


class _Backend(EmailBackend):
    """Django's backend keeping hold of its smtplib client from the moment it connected (Django
    shows it only once TLS and login succeeded), so a failure there names its stage too."""

    client = None

    def _send(self, email_message):
        if isinstance(email_message, Prepared):  # serialised ahead: only the SMTP exchange is left
            self.connection.sendmail(email_message.from_email, email_message.recipients, email_message.data)
            return True
        return super()._send(email_message)

    @property
    def connection_class(self):
        cls = _SMTP_SSL if self.use_ssl else _SMTP

        def connect(*args, **kwargs):
            self.client = cls(*args, **kwargs)
            return self.client

        return connect


class SmtpConnection:
    """One SMTP connection reused for a whole run, reopened after the server closed it."""

    def __init__(self, account):
        self.account = account
        self._backend = None

    def send(self, message) -> SendFailure | None:
        """Sends one message (an EmailMessage, or compose.Prepared); None when the server
        accepted it, else what went wrong.

        A reused connection the server dropped while idle (it breaks, with no reply, before
        the message is handed over) is reopened and the message tried once more.
        """
        reused = self._backend is not None
        failure = self._attempt(message)
        if failure and reused and failure.dropped and failure.stage in (Stage.MAIL, Stage.RCPT, Stage.DATA):
            failure = self._attempt(message)
        return failure

    def _attempt(self, message) -> SendFailure | None:
        if self._backend is None:
            self._backend = _Backend(**self._params())
            try:
                self._backend.open()
            except OSError as exc:
                failure = classify(exc, stage=self._stage())
                self.close()  # never keep a half-open one (no TLS, no login yet)
                return failure
        try:
            self._backend.send_messages([message])
        except OSError as exc:  # smtplib's errors are OSErrors too
            failure = classify(exc, stage=self._stage())
            if not self._is_open():
                self.close()  # smtplib closed it (421, a drop): the next message reconnects
            return failure
        except Exception:
            self.close()  # the message broke while Django serialised it: nothing went, start clean
            raise
        return None

    def _stage(self) -> str:
        client = self._backend.client if self._backend else None
        return client.stage if client is not None else Stage.CONNECT

    def _is_open(self) -> bool:
        connection = self._backend.connection if self._backend else None
        return connection is not None and connection.sock is not None

    def _params(self) -> dict:
        account = self.account
        return {
            "host": account.smtp_host,
            "port": account.smtp_port,
            "username": account.smtp_username,
            "password": reveal(account.smtp_password),  # an unreadable one refuses, never sends ""
            "use_tls": account.use_tls,
            "use_ssl": account.use_ssl,
            "timeout": settings.MAILER_SMTP_TIMEOUT,
            "fail_silently": False,
        }

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
