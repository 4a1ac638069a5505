"""Who is to blame for a failed send: the stage the SMTP conversation had reached and the
server's reply decide it (a pure function, table-tested in tests/mailer/engine/test_smtp_errors.py).

- the recipient (5xx about the address at RCPT, or after DATA with a 5.1.x/5.2.x code): that
  recipient fails for good, and an unknown mailbox goes on the suppression list;
- nobody yet (4xx, a refused or broken connection before the message was handed over): the
  recipient fails, retryable, and counts for the circuit breaker;
- the sender, the account or the message itself (5xx at connect, EHLO, STARTTLS, AUTH, MAIL
  FROM, DATA; 5.1.7/5.1.8/5.7.x; 552/554): every recipient would fail the same way, so the
  campaign pauses and the recipient stays in line;
- unknown (the connection dropped or timed out after the message was handed over): it may
  have been delivered, so it is never resent by itself.
"""

import re
import smtplib
import ssl
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    CONNECT = "connect"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail_from"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, before the message is handed over
    AFTER_DATA = "after_data"  # the message was handed over; waiting for the server's verdict


STAGE_LABELS = {
    Stage.CONNECT: "при подключении",
    Stage.EHLO: "на приветствии (EHLO)",
    Stage.STARTTLS: "при включении шифрования (STARTTLS)",
    Stage.AUTH: "при входе (AUTH)",
    Stage.MAIL: "на адресе отправителя (MAIL FROM)",
    Stage.RCPT: "на адресе получателя (RCPT TO)",
    Stage.DATA: "на команде DATA",
    Stage.AFTER_DATA: "после передачи (DATA)",
}

PERMANENT = "permanent"  # this address will not work
TRANSIENT = "transient"  # try again later
SENDER = "sender"  # the sender or the account is refused: pause the campaign
MESSAGE = "message"  # the message itself is refused: pause the campaign
UNKNOWN = "unknown"  # the message may have been delivered
PAUSES_CAMPAIGN = (SENDER, MESSAGE)

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_UNKNOWN_USER = re.compile(r"user unknown|unknown user|no such user|does not exist|mailbox not found", re.IGNORECASE)
_SENDER_CODES = {("1", "7"), ("1", "8")}  # 5.1.7 bad sender mailbox syntax, 5.1.8 bad sender system
_CONTENT_CODES = (552, 554)  # too big, transaction failed: about the message, not an address
_ACCOUNT_STAGES = (Stage.CONNECT, Stage.EHLO, Stage.STARTTLS, Stage.AUTH, Stage.MAIL)


@dataclass(frozen=True)
class SendFailure:
    kind: str  # PERMANENT, TRANSIENT, SENDER, MESSAGE or UNKNOWN
    text: str  # the server's reply or the socket error, as it came
    stage: str = ""
    unknown_user: bool = False
    dropped: bool = False  # no reply at all: the connection broke or timed out

    @property
    def pauses_campaign(self) -> bool:
        return self.kind in PAUSES_CAMPAIGN

    def describe(self) -> str:
        """What staff read on the paused campaign."""
        what = "само письмо" if self.kind == MESSAGE else "отправителя или учётную запись"
        return f"SMTP-сервер отклонил {what} {STAGE_LABELS.get(self.stage, '')}: {self.text}".replace("  ", " ")


def classify(exc: BaseException, *, stage: str) -> SendFailure:
    """Maps an exception raised at `stage` of sending one message to a SendFailure."""
    code, reply = _reply_of(exc)
    if code is None:  # no answer: refused, dropped, timed out, or TLS failed
        text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if stage == Stage.AFTER_DATA:
            kind = UNKNOWN
        elif stage in (Stage.STARTTLS, Stage.AUTH) and _refused_setting(exc):
            kind = SENDER  # a setting to fix, not a passing trouble
        else:
            kind = TRANSIENT
        return SendFailure(kind, text, stage, dropped=True)
    text = f"{code} {reply}".strip()
    if code < 500:
        return SendFailure(TRANSIENT, text, stage)
    return SendFailure(_blame_5xx(code, reply, stage), text, stage, unknown_user=_is_unknown_user(code, reply, stage))


def _refused_setting(exc: BaseException) -> bool:
    """TLS or AUTH the server does not offer (or a certificate it fails): no answer, but no
    retry will help either."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return False
    return isinstance(exc, ssl.SSLError | smtplib.SMTPException)


def _blame_5xx(code: int, reply: str, stage: str) -> str:
    enhanced = _enhanced(reply)
    if enhanced in _SENDER_CODES or stage in _ACCOUNT_STAGES and not (stage == Stage.MAIL and code == 552):
        return SENDER
    if enhanced is not None and enhanced[0] in ("1", "2"):  # 5.1.x address, 5.2.x mailbox
        return PERMANENT if stage in (Stage.RCPT, Stage.AFTER_DATA) else MESSAGE
    if stage == Stage.RCPT:
        if enhanced is not None and enhanced[0] == "7":  # 5.7.x: relaying or policy refuses us
            return SENDER
        return SENDER if code in _CONTENT_CODES else PERMANENT
    if stage == Stage.AFTER_DATA and enhanced is None and _UNKNOWN_USER.search(reply):
        return PERMANENT  # one recipient per message: a server checking addresses late
    return MESSAGE  # DATA, after DATA, 552 at MAIL FROM (too big)


def _is_unknown_user(code: int, reply: str, stage: str) -> bool:
    """An address that does not exist: a bounce worth suppressing."""
    if stage not in (Stage.RCPT, Stage.AFTER_DATA) or _blame_5xx(code, reply, stage) != PERMANENT:
        return False
    enhanced = _enhanced(reply)
    return (enhanced is not None and enhanced[0] == "1") or bool(_UNKNOWN_USER.search(reply))


def _enhanced(reply: str) -> tuple[str, str] | None:
    """The subject and detail of a 5.x.y enhanced status code in the reply, if any."""
    match = _ENHANCED.search(reply)
    return (match.group(2), match.group(3)) if match and match.group(1) == "5" else None


def _reply_of(exc: BaseException) -> tuple[int | None, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        return code, _decode(reply)
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code not in (-1, None):
        return exc.smtp_code, _decode(exc.smtp_error)
    return None, ""


def _decode(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
