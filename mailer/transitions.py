"""Every conditional change of campaign, queue and recipient state: the one writer.

Each function is one guarded UPDATE (or two, campaign and queue), safe against a concurrent
sender or staff member: the condition names the state it leaves, and the result says whether
it happened. The engine, the services, the suppression list, the quota sync and reconcile
call these; nothing else writes `status` (or the bookkeeping around it) of those rows, nor
the delivery statuses the provider's log reports (RecipientDelivery, DeliverySync).
Creating rows (a new campaign, its recipients as `pending`) and SendLog records are not
state changes and stay with their callers.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from mailer.delivery_models import DeliverySync, RecipientDelivery
from mailer.models import Campaign, CampaignQueue, CampaignRecipient, GlobalMailAccount, Unsubscribe

CampaignStatus = Campaign.Status
Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
WAITING_OR_SENDING = (Queue.PENDING, Queue.PROCESSING)


def _campaign_to(campaign_id: int, status: str, *, only_from: Iterable[str] | None = None) -> bool:
    campaigns = Campaign.objects.filter(pk=campaign_id)
    if only_from is not None:
        campaigns = campaigns.filter(status__in=list(only_from))
    return bool(campaigns.update(status=status, updated_at=timezone.now()))


# --- staff: start, pause, resume, retry ------------------------------------------------------


def rearm(*, campaign: Campaign, now: datetime, scheduled_at: datetime | None = None) -> bool:
    """Start: a draft becomes `ready` and its queue is created, or put back in line as new.

    With `scheduled_at` the queue waits for that time (its own defer reason) and joins the
    line then, behind the campaigns started before it.
    """
    drafts = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT)
    if not drafts.update(status=CampaignStatus.READY, scheduled_at=scheduled_at, updated_at=timezone.now()):
        return False
    CampaignQueue.objects.update_or_create(
        campaign=campaign,
        defaults={
            "status": Queue.PENDING,
            "queued_at": scheduled_at or now,
            "started_at": None,
            "heartbeat_at": None,
            "completed_at": None,
            "defer_reason": CampaignQueue.DeferReason.SCHEDULED if scheduled_at else "",
            "deferred_until": scheduled_at,
            "pause_reason": "",
            "pause_detail": "",
        },
    )
    return True


def unschedule(*, campaign_id: int) -> bool:
    """A plan is cancelled: its queue row goes and the campaign is a draft again; False when
    the sender took it meanwhile (or it was not planned)."""
    planned = CampaignQueue.objects.filter(
        campaign_id=campaign_id, status=Queue.PENDING, defer_reason=CampaignQueue.DeferReason.SCHEDULED
    )
    if not planned.delete()[0]:
        return False
    Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.READY).update(
        status=CampaignStatus.DRAFT, scheduled_at=None, updated_at=timezone.now()
    )
    return True


def pause(*, campaign_id: int, defer_reason: str = "", pause_reason: str = "", pause_detail: str = "") -> bool:
    """A waiting or sending queue stops (with why, when the sender stopped it) and its campaign
    goes on pause; False when the queue was neither (finished, or paused meanwhile)."""
    paused = CampaignQueue.objects.filter(campaign_id=campaign_id, status__in=WAITING_OR_SENDING).update(
        status=Queue.PAUSED,
        defer_reason=defer_reason,
        deferred_until=None,
        pause_reason=pause_reason,
        pause_detail=pause_detail,
    )
    if paused:
        _campaign_to(campaign_id, CampaignStatus.PAUSED)
    return bool(paused)


def resume(*, campaign_id: int, status: str | None) -> None:
    """Back to the sender now: the queue waits with no deferral or pause reason; a paused
    campaign goes back to `status` (None: it was not paused, only deferred)."""
    if status is not None:
        _campaign_to(campaign_id, status, only_from=[CampaignStatus.PAUSED])
    CampaignQueue.objects.filter(campaign_id=campaign_id).exclude(status=Queue.PROCESSING).update(
        status=Queue.PENDING,
        defer_reason="",
        deferred_until=None,
        completed_at=None,
        pause_reason="",
        pause_detail="",
    )


def requeue_failed(*, campaign_id: int, now: datetime, include_unknown: bool = False) -> int:
    """Retry: failures worth another try (and, when staff ask, unknown outcomes) go back to
    `pending`, and a finished queue back in line; returns how many recipients went back."""
    retryable = Q(status=Recipient.FAILED, error_kind__in=CampaignRecipient.RETRYABLE_ERROR_KINDS)
    if include_unknown:
        retryable |= Q(status=Recipient.UNKNOWN)
    retried = CampaignRecipient.objects.filter(retryable, campaign_id=campaign_id).update(
        status=Recipient.PENDING, error_kind="", last_error="", claimed_at=None
    )
    if retried:
        # A paused queue stays paused: it waits for «Возобновить».
        CampaignQueue.objects.filter(campaign_id=campaign_id, status=Queue.COMPLETED).update(
            status=Queue.PENDING, queued_at=now, completed_at=None
        )
    return retried


# --- the sender: the queue ---------------------------------------------------------------


def claim_queue(*, queue: CampaignQueue, now: datetime) -> bool:
    """The sender takes a waiting queue (or continues its own); a ready campaign becomes
    `sending`. False when someone paused or finished it meanwhile."""
    claimed = CampaignQueue.objects.filter(pk=queue.pk, status__in=WAITING_OR_SENDING).update(
        status=Queue.PROCESSING,
        started_at=now if queue.status == Queue.PENDING else F("started_at"),
        heartbeat_at=now,
        defer_reason="",
        deferred_until=None,
    )
    if claimed:
        _campaign_to(queue.campaign_id, CampaignStatus.SENDING, only_from=[CampaignStatus.READY])
    return bool(claimed)


def beat(*, queue_id: int, now: datetime) -> bool:
    """The sender's heartbeat; False once the queue is no longer its (staff paused it)."""
    return bool(CampaignQueue.objects.filter(pk=queue_id, status=Queue.PROCESSING).update(heartbeat_at=now))


def beat_and_read_account(*, queue_id: int, account_id: int, now: datetime) -> tuple[bool, bool]:
    """`beat` and whether the mail account is still switched on, in one statement (the run
    looks at both every few messages). Returns (the queue is still the sender's, the account
    is on)."""
    if connection.vendor != "postgresql":
        enabled = GlobalMailAccount.objects.filter(pk=account_id, is_enabled=True).exists()
        return beat(queue_id=queue_id, now=now), enabled
    queues = connection.ops.quote_name(CampaignQueue._meta.db_table)
    accounts = connection.ops.quote_name(GlobalMailAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH beat AS (
                UPDATE {queues} SET heartbeat_at = %s WHERE id = %s AND status = %s RETURNING 1
            ) SELECT EXISTS (SELECT 1 FROM beat), EXISTS (SELECT 1 FROM {accounts} WHERE id = %s AND is_enabled)""",
            [now, queue_id, Queue.PROCESSING, account_id],
        )
        ours, enabled = cursor.fetchone()
    return ours, enabled


def defer(*, queue_id: int, reason: str, until: datetime | None) -> bool:
    """A gate is closed: the queue waits for `until` with the reason staff read."""
    return bool(
        CampaignQueue.objects.filter(pk=queue_id, status__in=WAITING_OR_SENDING).update(
            status=Queue.PENDING, defer_reason=reason, deferred_until=until
        )
    )


def set_transient_errors(*, queue_id: int, count: int) -> None:
    """Temporary SMTP errors in a row, for the circuit breaker (any success resets it)."""
    CampaignQueue.objects.filter(pk=queue_id).update(consecutive_transient_errors=count)


def complete(*, queue_id: int, now: datetime) -> bool:
    """Nothing left to send: the queue the sender holds is completed."""
    return bool(
        CampaignQueue.objects.filter(pk=queue_id, status=Queue.PROCESSING).update(
            status=Queue.COMPLETED, completed_at=now, defer_reason="", deferred_until=None
        )
    )


def mark_campaign_sent(*, campaign_id: int) -> None:
    """Completed with no failure (one with failures stays `sending`, to be retried)."""
    _campaign_to(campaign_id, CampaignStatus.SENT)


def make_quota_deferred_due(*, now: datetime) -> int:
    """The quota was topped up: campaigns waiting for it become due now (the sender checks
    the gate again)."""
    return CampaignQueue.objects.filter(
        status=Queue.PENDING, defer_reason=CampaignQueue.DeferReason.QUOTA_EXHAUSTED, deferred_until__gt=now
    ).update(deferred_until=now)


# --- the sender: one recipient --------------------------------------------------------------


def claim_recipient(*, recipient_id: int, message_id: str, now: datetime) -> bool:
    """The sender takes one waiting recipient; False when another sender has it."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id, status=Recipient.PENDING).update(
            status=Recipient.SENDING, attempts=F("attempts") + 1, claimed_at=now, smtp_message_id=message_id
        )
    )


def record_sent(*, recipient_id: int, now: datetime) -> bool:
    """The server accepted the message; False when staff deleted the recipient meanwhile."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id).update(
            status=Recipient.SENT, sent_at=now, error_kind="", last_error=""
        )
    )


def record_sent_and_claim(
    *, sent_id: int | None, sent_at: datetime | None, claim_id: int, message_id: str, now: datetime
) -> tuple[bool, bool]:
    """The outcome of the message just sent and the claim of the next one, in one statement
    (two guarded UPDATEs in one PostgreSQL statement: one round trip, one commit), so at most
    one recipient is ever claimed with no outcome written, as with the two apart. Returns
    (`record_sent`'s answer, `claim_recipient`'s answer); no `sent_id`: only the claim."""
    if connection.vendor != "postgresql":
        still_there = sent_id is not None and record_sent(recipient_id=sent_id, now=sent_at)
        return still_there, claim_recipient(recipient_id=claim_id, message_id=message_id, now=now)
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH sent AS (
                UPDATE {table} SET status = %s, sent_at = %s, error_kind = '', last_error = ''
                WHERE id = %s RETURNING 1
            ), claimed AS (
                UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_at = %s, smtp_message_id = %s
                WHERE id = %s AND status = %s RETURNING 1
            ) SELECT EXISTS (SELECT 1 FROM sent), EXISTS (SELECT 1 FROM claimed)""",
            [Recipient.SENT, sent_at, sent_id, Recipient.SENDING, now, message_id, claim_id, Recipient.PENDING],
        )
        still_there, claimed = cursor.fetchone()
    return still_there, claimed


def record_failed(*, recipient_id: int, kind: str, text: str) -> bool:
    """The server refused or the connection failed; False when the recipient is gone."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id).update(
            status=Recipient.FAILED, error_kind=kind, last_error=text
        )
    )


def record_unknown(*, recipient_id: int, text: str) -> bool:
    """The connection broke after the message was handed over: it may have arrived."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id, status=Recipient.SENDING).update(
            status=Recipient.UNKNOWN, error_kind=CampaignRecipient.ErrorKind.INTERRUPTED, last_error=text
        )
    )


def release_claim(*, recipient_id: int, text: str) -> bool:
    """Not this recipient's fault (the server refused the sender or the message): back in
    line, untouched by the failure, for when staff resume the campaign."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id, status=Recipient.SENDING).update(
            status=Recipient.PENDING, claimed_at=None, last_error=text
        )
    )


def record_invalid(*, recipient_id: int, now: datetime, text: str) -> bool:
    """A waiting recipient whose address cannot be sent to fails without a try."""
    return bool(
        CampaignRecipient.objects.filter(pk=recipient_id, status=Recipient.PENDING).update(
            status=Recipient.FAILED, error_kind=CampaignRecipient.ErrorKind.INVALID, last_error=text, claimed_at=now
        )
    )


def mark_unsubscribed(*, emails: Iterable[str] | QuerySet | None = None, campaign_id: int | None = None) -> int:
    """Waiting recipients of suppressed addresses will get nothing: `emails` (default: every
    address on the list), in one campaign or all of them. Returns how many were marked."""
    recipients = CampaignRecipient.objects.filter(status=Recipient.PENDING)
    if campaign_id is not None:
        recipients = recipients.filter(campaign_id=campaign_id)
    suppressed = Unsubscribe.objects.values("email") if emails is None else emails
    if not isinstance(suppressed, QuerySet):
        suppressed = list(suppressed)
    return recipients.filter(email__in=suppressed).update(status=Recipient.UNSUBSCRIBED)


def mark_interrupted(*, claimed_before: datetime, text: str) -> int:
    """Recipients claimed long ago with no outcome: whether their message went is unknown, so
    they are marked so instead of being sent again by themselves (staff may retry them)."""
    return CampaignRecipient.objects.filter(status=Recipient.SENDING, claimed_at__lt=claimed_before).update(
        status=Recipient.UNKNOWN, error_kind=CampaignRecipient.ErrorKind.INTERRUPTED, last_error=text
    )


# --- after the hand-over: what the provider's log reports ------------------------------------

Delivery = RecipientDelivery.Status


def record_delivery(
    *,
    recipient_id: int,
    campaign_id: int,
    status: str,
    status_at: datetime,
    now: datetime,
    reason: str = "",
    opened_at: datetime | None = None,
    provider_id: str = "",
) -> bool:
    """The provider's word on one sent message. A newer report replaces an older one, but a
    hard bounce is final; the first open is kept. Returns whether anything changed."""
    fields = {"status": status, "status_at": status_at, "reason": reason, "provider_id": provider_id}
    row, created = RecipientDelivery.objects.get_or_create(
        recipient_id=recipient_id,
        defaults={**fields, "campaign_id": campaign_id, "opened_at": opened_at, "synced_at": now},
    )
    if created:
        return True
    changed = (
        RecipientDelivery.objects.filter(pk=row.pk, status_at__lte=status_at)
        .exclude(status=Delivery.HARD_BOUNCE)
        .exclude(status=status, reason=reason)
        .update(**fields, synced_at=now)
    )
    if opened_at is not None:
        changed += RecipientDelivery.objects.filter(pk=row.pk, opened_at__isnull=True).update(
            opened_at=opened_at, synced_at=now
        )
    return bool(changed)


def record_delivery_sync(*, now: datetime, error: str = "", counts: dict | None = None) -> None:
    """A sync pass ended: a good one moves `last_synced_at`; a failed one records the error and
    keeps the time of the last good pass (and every status as it was)."""
    if error:
        fields = {"error": error, "error_at": now}
    else:
        fields = {"last_synced_at": now, "error": "", "error_at": None, "counts": counts or {}}
    DeliverySync.objects.update_or_create(pk=1, defaults=fields)
