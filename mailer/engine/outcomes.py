"""What the sender writes after an attempt: the recipient's new state (through
mailer.transitions) and its SendLog row, which outlives a recipient or a campaign that staff
deleted while the message was on its way."""

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
    fields = {"kind": SendLog.Kind.CAMPAIGN, "email": recipient.email, **fields}
    try:
        with transaction.atomic():
            SendLog.objects.create(
                campaign_id=campaign_id, recipient_id=recipient.pk if still_there else None, **fields
            )
    except IntegrityError:
        if Campaign.objects.filter(pk=campaign_id).exists():
            raise  # not a deletion: the guard against a second success, say
        SendLog.objects.create(campaign_id=None, recipient_id=None, **fields)
