"""What the sender writes after an attempt: the recipient's new state (through
mailer.transitions) and its SendLog row, which outlives a recipient or a campaign that staff
deleted while the message was on its way."""

import time

from django.db import IntegrityError, transaction

from mailer import transitions
from mailer.engine.smtp_errors import UNKNOWN, SendFailure
from mailer.models import Campaign, SendLog

UNKNOWN_OUTCOME = (
    "Соединение оборвалось после передачи письма: неизвестно, дошло ли оно ({error}). "
    "Само не повторяется; повторите «Повторить неудачные» с отметкой «включая неизвестные», "
    "если уверены, что письма нет."
)


def record_failure(recipient_id: int, failure: SendFailure) -> tuple[bool, str]:
    """The recipient after a failed attempt: back in line when the sender, the account or the
    message is to blame, `unknown` when the message may have arrived, else `failed`. Returns
    whether the recipient is still there, and the error text staff read."""
    if failure.pauses_campaign:
        return transitions.release_claim(recipient_id=recipient_id, text=failure.text), failure.text
    if failure.kind == UNKNOWN:
        error = UNKNOWN_OUTCOME.format(error=failure.text)
        return transitions.record_unknown(recipient_id=recipient_id, text=error), error
    return transitions.record_failed(recipient_id=recipient_id, kind=failure.kind, text=failure.text), failure.text


def log_send(*, campaign_id: int, recipient, still_there: bool = True, **fields) -> None:
    """One SendLog row of a campaign attempt. `still_there` is False when the recipient was
    deleted meanwhile; a campaign deleted meanwhile (paused, then deleted by staff) leaves the
    row pointing at nothing instead of failing the pass with an IntegrityError."""
    try:
        with transaction.atomic():
            _log_row(campaign_id, recipient, still_there, fields).save()
    except IntegrityError:
        if Campaign.objects.filter(pk=campaign_id).exists():
            raise  # not a deletion: the guard against a second success, say
        _log_row(None, recipient, False, fields).save()


# SendLog rows wait in memory for at most this many messages or seconds (a slow provider): the
# recipient row is the truth and is written at once; the log follows in one INSERT per batch
# (and whenever the run stops).
LOG_BATCH = 25
LOG_SECONDS = 5


class Ledger:
    """What a campaign run still owes the database, kept as small as the crash window allows.

    A success is written together with the next claim (transitions.record_sent_and_claim), so
    per message the run costs one statement, and at most one recipient is ever `sending`
    with no outcome: the one whose message is on its way, or was just accepted. A crash at
    any point leaves that one recipient for reconcile, never more. `settle` writes a success
    that waits alone: before anything else reads the recipients or the run ends.

    SendLog rows follow in batches. Until its row is written a sent recipient still counts in
    the hourly limit's database count (limits.database_hourly_count), so the limit holds
    without Redis as before.
    """

    def __init__(self, *, campaign_id: int):
        self.campaign_id = campaign_id
        self.success = None  # (recipient, sent_at, log fields) of the message just accepted
        self.logs = []  # (recipient, still_there, fields) not written yet
        self.logs_since = 0.0  # time.monotonic() of the oldest of them

    def sent(self, recipient, *, now, **fields) -> None:
        """The server accepted the message to `recipient`: written with the next claim."""
        self.settle()  # (only ever one waits; a success with none in between is a bug's way)
        self.success = (recipient, now, fields)

    def claim(self, *, recipient_id: int, message_id: str, now) -> bool:
        """Claims the next recipient, writing the waiting success in the same statement."""
        success, self.success = self.success, None
        still_there, claimed = transitions.record_sent_and_claim(
            sent_id=success[0].pk if success else None,
            sent_at=success[1] if success else None,
            claim_id=recipient_id,
            message_id=message_id,
            now=now,
        )
        if success:
            self.log(success[0], still_there=still_there, status=SendLog.Status.SENT, **success[2])
        return claimed

    def settle(self) -> None:
        """Writes a waiting success on its own (no next claim to carry it)."""
        success, self.success = self.success, None
        if success:
            still_there = transitions.record_sent(recipient_id=success[0].pk, now=success[1])
            self.log(success[0], still_there=still_there, status=SendLog.Status.SENT, **success[2])

    def log(self, recipient, *, still_there: bool = True, **fields) -> None:
        if not self.logs:
            self.logs_since = time.monotonic()
        self.logs.append((recipient, still_there, fields))
        full = len(self.logs) >= LOG_BATCH or time.monotonic() - self.logs_since >= LOG_SECONDS
        if full or not still_there:  # a deleted recipient is counted by its log row alone
            self.flush_logs()

    def flush_logs(self) -> None:
        logs, self.logs = self.logs, []
        if not logs:
            return
        try:
            with transaction.atomic():
                SendLog.objects.bulk_create(
                    _log_row(self.campaign_id, recipient, still_there, fields)
                    for recipient, still_there, fields in logs
                )
        except IntegrityError:  # a campaign deleted meanwhile, say: row by row, as log_send knows
            for recipient, still_there, fields in logs:
                log_send(campaign_id=self.campaign_id, recipient=recipient, still_there=still_there, **fields)

    def close(self) -> None:
        self.settle()
        self.flush_logs()


def _log_row(campaign_id, recipient, still_there, fields):
    fields = {"kind": SendLog.Kind.CAMPAIGN, "email": recipient.email, **fields}
    return SendLog(campaign_id=campaign_id, recipient_id=recipient.pk if still_there else None, **fields)
