"""Who is to blame, by stage and reply: the classifier's table (issue 10, findings 2, 5, 6)."""

import smtplib
import ssl

import pytest

from mailer.engine.smtp_errors import MESSAGE, PERMANENT, SENDER, TRANSIENT, UNKNOWN, Stage, classify

S = Stage


def refused(code, reply):
    return smtplib.SMTPRecipientsRefused({"x@example.com": (code, reply.encode())})


def answered(code, reply):
    return smtplib.SMTPResponseException(code, reply.encode())


DROPPED = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
TIMED_OUT = smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out")

TABLE = [
    # stage, exception, kind, unknown user (a bounce to suppress)
    (S.CONNECT, ConnectionRefusedError(111, "Connection refused"), TRANSIENT, False),
    (S.CONNECT, TimeoutError("timed out"), TRANSIENT, False),
    (S.CONNECT, smtplib.SMTPConnectError(421, b"Too many connections"), TRANSIENT, False),
    (S.CONNECT, smtplib.SMTPConnectError(554, b"5.7.1 Your IP is blocked"), SENDER, False),
    (S.EHLO, smtplib.SMTPHeloError(501, b"5.5.4 Invalid domain"), SENDER, False),
    (S.EHLO, DROPPED, TRANSIENT, False),
    (S.STARTTLS, smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), SENDER, False),
    (S.STARTTLS, ssl.SSLCertVerificationError("certificate verify failed"), SENDER, False),
    (S.STARTTLS, answered(454, "4.7.0 TLS not available"), TRANSIENT, False),
    (S.AUTH, smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"), SENDER, False),
    (S.AUTH, smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure"), TRANSIENT, False),
    (S.AUTH, smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."), SENDER, False),
    (S.AUTH, TIMED_OUT, TRANSIENT, False),
    (S.MAIL, smtplib.SMTPSenderRefused(550, b"5.1.8 Sender domain does not exist", "crm@x.ru"), SENDER, False),
    (S.MAIL, smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not authorised", "crm@x.ru"), SENDER, False),
    (S.MAIL, smtplib.SMTPSenderRefused(451, b"4.3.0 Try later", "crm@x.ru"), TRANSIENT, False),
    (S.MAIL, smtplib.SMTPSenderRefused(552, b"5.3.4 Message size exceeds limit", "crm@x.ru"), MESSAGE, False),
    (S.MAIL, smtplib.SMTPSenderRefused(421, b"4.4.2 Closing connection", "crm@x.ru"), TRANSIENT, False),
    (S.MAIL, DROPPED, TRANSIENT, False),
    (S.RCPT, refused(550, "5.1.1 <x@example.com>: User unknown"), PERMANENT, True),
    (S.RCPT, refused(550, "5.1.10 Null MX"), PERMANENT, True),
    (S.RCPT, refused(550, "Mailbox not found"), PERMANENT, True),
    (S.RCPT, refused(550, "Requested action not taken"), PERMANENT, False),
    (S.RCPT, refused(552, "5.2.2 Mailbox full"), PERMANENT, False),
    (S.RCPT, refused(550, "5.1.8 <crm@x.ru>: Sender address rejected: Domain not found"), SENDER, False),
    (S.RCPT, refused(553, "5.1.7 Bad sender address syntax"), SENDER, False),
    (S.RCPT, refused(554, "5.7.1 Relay access denied"), SENDER, False),
    (S.RCPT, refused(550, "5.7.1 Sender address does not exist"), SENDER, False),
    (S.RCPT, refused(554, "Transaction failed"), SENDER, False),
    (S.RCPT, refused(552, "Message size exceeds fixed limit"), SENDER, False),
    (S.RCPT, refused(450, "4.2.0 Mailbox busy"), TRANSIENT, False),
    (S.RCPT, refused(421, "4.4.2 Closing connection"), TRANSIENT, False),
    (S.DATA, smtplib.SMTPDataError(554, b"5.5.1 Error: no valid recipients"), MESSAGE, False),
    (S.DATA, smtplib.SMTPDataError(451, b"4.3.0 Try again"), TRANSIENT, False),
    (S.DATA, DROPPED, TRANSIENT, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(552, b"5.3.4 Message too big"), MESSAGE, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), MESSAGE, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(550, b"5.7.26 DMARC policy"), MESSAGE, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(554, b"Transaction failed"), MESSAGE, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(550, b"5.1.8 Sender domain not found"), SENDER, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(550, b"5.1.1 User unknown"), PERMANENT, True),
    (S.AFTER_DATA, smtplib.SMTPDataError(550, b"No such user here"), PERMANENT, True),
    (S.AFTER_DATA, smtplib.SMTPDataError(451, b"4.7.1 Greylisted"), TRANSIENT, False),
    (S.AFTER_DATA, smtplib.SMTPDataError(421, b"4.4.2 Closing connection"), TRANSIENT, False),
    (S.AFTER_DATA, DROPPED, UNKNOWN, False),
    (S.AFTER_DATA, TIMED_OUT, UNKNOWN, False),
]


@pytest.mark.parametrize(("stage", "exc", "kind", "unknown_user"), TABLE, ids=lambda v: str(v)[:40])
def test_blame_by_stage_and_reply(stage, exc, kind, unknown_user):
    failure = classify(exc, stage=stage)
    assert (failure.kind, failure.unknown_user, failure.stage) == (kind, unknown_user, stage)


def test_the_reply_is_kept_and_described_in_russian():
    failure = classify(smtplib.SMTPDataError(552, b"5.3.4 Message too big"), stage=S.AFTER_DATA)
    assert failure.text == "552 5.3.4 Message too big"
    assert failure.pauses_campaign
    assert failure.describe() == "SMTP-сервер отклонил само письмо после передачи (DATA): 552 5.3.4 Message too big"
    sender = classify(smtplib.SMTPSenderRefused(550, b"5.1.8 Bad domain", "a@b.ru"), stage=S.MAIL)
    assert sender.describe().startswith("SMTP-сервер отклонил отправителя или учётную запись на адресе отправителя")


def test_a_drop_is_marked_as_such_and_a_reply_is_not():
    assert classify(DROPPED, stage=S.MAIL).dropped
    assert not classify(smtplib.SMTPSenderRefused(421, b"bye", "a@b.ru"), stage=S.MAIL).dropped
