"""The sending pipeline: one sender at a time works through the campaign queue.

A pass takes the sender lock, continues the campaign in `processing` or takes the next
`pending` one (priority, then FIFO), checks the gates before every message and claims each
recipient in the database before sending, so no address is sent twice even if the lock is
lost. Per message it costs one claim and one outcome (recipient row + SendLog) in the
database and one INCR in the cache. Every state change goes through mailer.transitions.
"""

import logging
import time

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from mailer import selectors, suppression, transitions
from mailer.addresses import is_valid_email
from mailer.engine import limits, notices, policy
from mailer.engine.compose import CampaignTemplate, build_message, new_message_id, recipient_context
from mailer.engine.one_off import ms_since
from mailer.engine.policy import Deferral
from mailer.engine.smtp import PERMANENT, SendFailure, SmtpConnection, classify_smtp_error
from mailer.engine.templating import CampaignTemplateError
from mailer.models import CampaignQueue, CampaignRecipient, GlobalMailAccount, SendLog, SmtpBzQuota, Unsubscribe
from mailer.pii import email_log_fields, redact
from mailer.smtp_bz import quota
from mailer.stored_secrets import UnreadableSecret
from mailer.suppression.tokens import make_token, unsubscribe_url

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
Reason = CampaignQueue.DeferReason
INVALID_ADDRESS = "Некорректный адрес e-mail"


def run_sender_pass() -> None:
    """One pass of `send_pending_emails`: the lock, then the queue until a gate closes."""
    lock = limits.SenderLock()
    if not lock.acquire():
        logger.info("Another sender holds the lock, skipping this pass")
        return
    try:
        process_queues(lock=lock)
    finally:
        lock.release()


def process_queues(*, lock: limits.SenderLock | None = None) -> None:
    """Sends campaigns one after another while the gates allow.

    Safe to run concurrently (tests do): every recipient is claimed in the database.
    """
    account = GlobalMailAccount.load()
    if not account.is_enabled:
        logger.info("Mail account is disabled, nothing sent")
        return
    if isinstance(account.smtp_password, UnreadableSecret):
        # Before any recipient is claimed: nobody is marked failed for the account's fault.
        logger.error("SMTP password cannot be decrypted, nothing sent", extra={"reason": account.smtp_password.reason})
        return
    tried = set()
    while (queue := selectors.next_queue(now=timezone.now(), exclude=tried)) is not None:
        tried.add(queue.pk)
        if CampaignRun(queue, account, lock=lock).run() == RunEnd.STOP_ALL:
            break


class RunEnd:
    NEXT = "next"  # this campaign is done or waits alone: try the next one
    STOP_ALL = "stop_all"  # a global gate closed or the pass lost control: stop the pass


class CampaignRun:
    def __init__(self, queue: CampaignQueue, account: GlobalMailAccount, *, lock: limits.SenderLock | None):
        self.queue = queue
        self.campaign = queue.campaign
        self.account = account
        self.lock = lock
        self.transient_errors = queue.consecutive_transient_errors
        self.quota_row = None
        self.unflushed_quota = 0

    # --- the run ------------------------------------------------------------------------

    def run(self) -> str:
        now = timezone.now()
        self._measure_budget(now)
        try:
            self.allowance.prepare(now=now)
            deferral = policy.first_blocking_gate(self._budget(), now=now)
            if deferral:
                return self._defer(deferral)
            if not transitions.claim_queue(queue=self.queue, now=now):
                return RunEnd.NEXT
            try:
                self.template = CampaignTemplate.for_campaign(self.campaign)
            except CampaignTemplateError as exc:
                self._pause_for_template_error(exc)
                return RunEnd.NEXT
            with SmtpConnection(self.account) as self.smtp:
                return self._send_all()
        finally:
            self.allowance.give_back()
            self._flush_quota()

    def _send_all(self):
        while self._still_in_control():
            self._flush_quota()
            chunk = self._next_chunk()
            if chunk and self._skip_unsubscribed(chunk):
                continue  # some were suppressed: take the chunk again without them
            if not chunk:
                return self._finish()
            for recipient in chunk:
                end = self._send_one(recipient)
                if end:
                    return end
        logger.info("Campaign run stopped: paused by staff or lock lost", extra=self._log_ids())
        return RunEnd.STOP_ALL

    def _still_in_control(self):
        """Beats the queue's heartbeat; False once staff paused it or the lock was lost."""
        still_processing = transitions.beat(queue_id=self.queue.pk, now=timezone.now())
        return still_processing and (self.lock is None or self.lock.extend())

    def _skip_unsubscribed(self, chunk):
        """Marks the chunk's addresses suppressed since they were added; only the chunk's are
        looked up (the whole campaign against the list cost 100 ms a chunk at 100 000)."""
        listed = Unsubscribe.objects.filter(email__in=[r.email for r in chunk]).values("email")
        return transitions.mark_unsubscribed(campaign_id=self.campaign.pk, emails=listed)

    def _next_chunk(self):
        pending = self.campaign.recipients.filter(status=Recipient.PENDING)
        return list(pending.select_related("company").order_by("id")[:CHUNK_SIZE])

    def _send_one(self, recipient):
        now = timezone.now()
        self.allowance.prepare(now=now)
        deferral = policy.first_blocking_gate(self._budget(), now=now)
        if deferral:
            return self._defer(deferral)
        if not is_valid_email(recipient.email):
            self._record_invalid(recipient, now)
            return None
        message_id = new_message_id(self.account, idstring=f"c{self.campaign.pk}.r{recipient.pk}")
        try:
            # Rendered before the claim: a template that fails leaves the recipient pending
            # and pauses only its own campaign; the pass goes on with the next one.
            message = self._compose(recipient, message_id)
        except CampaignTemplateError as exc:
            self._pause_for_template_error(exc)
            return RunEnd.NEXT
        if not transitions.claim_recipient(recipient_id=recipient.pk, message_id=message_id, now=now):
            return None  # another sender has it
        self.allowance.use()
        failure, took_ms = self._deliver(message)
        if failure:
            return self._on_failure(recipient, failure, message_id, took_ms)
        self._on_success(recipient, message_id, took_ms)
        return None

    # --- budget and gates ---------------------------------------------------------------

    def _measure_budget(self, now):
        """Reads the figures the gates need once per run; the run keeps them current."""
        self.quota_row = SmtpBzQuota.current()
        self.owner_sent = selectors.owner_sent_today(self.campaign.created_by_id, now=now)
        self.quota_left = self.quota_row.emails_available if self.quota_row else None
        self.allowance = limits.HourlyAllowance(limit=settings.MAILER_RATE_PER_HOUR, batch=CHUNK_SIZE)

    def _budget(self):
        return policy.SendingBudget(
            hourly_sent=self.allowance.sent(),
            hourly_limit=self.allowance.limit,
            owner_sent_today=self.owner_sent,
            daily_limit=self.account.per_user_daily_limit,
            quota_available=self.quota_left,
        )

    def _defer(self, deferral: Deferral) -> str:
        """Defers this campaign; only the owner's daily limit leaves others free to go."""
        transitions.defer(queue_id=self.queue.pk, reason=deferral.reason, until=deferral.until)
        notices.deferred(self.queue, deferral)
        return RunEnd.NEXT if deferral.reason == Reason.DAILY_LIMIT else RunEnd.STOP_ALL

    # --- delivery and outcomes ----------------------------------------------------------

    def _compose(self, recipient, message_id):
        url = unsubscribe_url(make_token(recipient.pk))
        context = recipient_context(
            email=recipient.email,
            name=recipient.name,
            company=recipient.company.name if recipient.company else "",
            variables=recipient.variables,
            unsubscribe_url=url,
        )
        return build_message(
            account=self.account,
            rendered=self.template.render(context),
            to=recipient.email,
            message_id=message_id,
            unsubscribe_url=url,
            attachments=self.template.attachments,
        )

    def _deliver(self, message):
        started = time.monotonic()
        try:
            self.smtp.send(message)
        except OSError as exc:  # smtplib's errors are OSErrors too
            return classify_smtp_error(exc), ms_since(started)
        return None, ms_since(started)

    def _on_success(self, recipient, message_id, took_ms):
        # The recipient row is the truth and goes first; the log follows (no transaction:
        # two statements instead of four, and a crash between them loses only a log row).
        still_there = transitions.record_sent(recipient_id=recipient.pk, now=timezone.now())
        self._log_send(recipient, SendLog.Status.SENT, message_id, took_ms, still_there=still_there)
        self.owner_sent += 1
        self._use_quota()
        if self.transient_errors:
            self._set_transient_errors(0)
        logger.info(
            "Email sent successfully",
            extra={
                **self._log_ids(recipient),
                "smtp_message_id": message_id,
                "provider": self.account.smtp_host,
                "took_ms": took_ms,
                "rate_limit_count": self.allowance.sent(),
            },
        )

    def _on_failure(self, recipient, failure: SendFailure, message_id, took_ms):
        self._record_failure(recipient, failure, message_id, took_ms)
        if failure.kind == PERMANENT:
            if failure.unknown_user:
                suppression.suppress(recipient.email, source=Unsubscribe.Source.BOUNCE, campaign=self.campaign)
            return None
        self._set_transient_errors(self.transient_errors + 1)
        if policy.trips_circuit_breaker(self.transient_errors):
            transitions.pause(campaign_id=self.campaign.pk, defer_reason=Reason.CIRCUIT_BREAKER)
            notices.circuit_breaker_opened(self.queue, errors=self.transient_errors)
            return RunEnd.STOP_ALL
        return None

    def _record_invalid(self, recipient, now):
        if transitions.record_invalid(recipient_id=recipient.pk, now=now, text=INVALID_ADDRESS):
            self._log_send(recipient, SendLog.Status.FAILED, "", 0, error=INVALID_ADDRESS)
            logger.warning("Email not sent: invalid address", extra=self._log_ids(recipient))

    def _record_failure(self, recipient, failure, message_id, took_ms):
        still_there = transitions.record_failed(recipient_id=recipient.pk, kind=failure.kind, text=failure.text)
        self._log_send(
            recipient, SendLog.Status.FAILED, message_id, took_ms, error=failure.text, still_there=still_there
        )
        logger.error(
            "Email send failed",
            extra={
                **self._log_ids(recipient),
                "error_kind": failure.kind,
                "error": redact(failure.text),
                "smtp_message_id": message_id,
                "provider": self.account.smtp_host,
                "took_ms": took_ms,
            },
        )

    def _log_send(self, recipient, status, message_id, took_ms, *, error="", still_there=True):
        """`still_there`: staff may delete a recipient while its message is on the way; the
        log keeps the outcome without pointing at the row that is gone."""
        SendLog.objects.create(
            campaign_id=self.campaign.pk,
            recipient_id=recipient.pk if still_there else None,
            kind=SendLog.Kind.CAMPAIGN,
            email=recipient.email,
            status=status,
            provider=self.account.smtp_host,
            smtp_message_id=message_id,
            error=error,
            took_ms=took_ms,
        )

    def _use_quota(self):
        if self.quota_left is not None:
            self.quota_left -= 1
            self.unflushed_quota += 1

    def _flush_quota(self):
        """Writes the quota used so far in one atomic decrement (once per chunk)."""
        quota.consume(self.quota_row, self.unflushed_quota)
        self.unflushed_quota = 0

    def _set_transient_errors(self, count):
        self.transient_errors = count
        transitions.set_transient_errors(queue_id=self.queue.pk, count=count)

    def _pause_for_template_error(self, exc: CampaignTemplateError) -> None:
        paused = transitions.pause(
            campaign_id=self.campaign.pk,
            pause_reason=CampaignQueue.PauseReason.TEMPLATE_ERROR,
            pause_detail=str(exc),
        )
        notices.template_failed(self.queue, exc, paused=paused)

    # --- completion ---------------------------------------------------------------------

    def _finish(self):
        counts = dict(self.campaign.recipients.values_list("status").annotate(n=Count("id")).order_by())
        if counts.get(Recipient.PENDING) or counts.get(Recipient.SENDING):
            return RunEnd.NEXT  # claimed by someone still sending, or paused mid-chunk
        if transitions.complete(queue_id=self.queue.pk, now=timezone.now()):
            if not counts.get(Recipient.FAILED):
                transitions.mark_campaign_sent(campaign_id=self.campaign.pk)
            notices.finished(self.queue, counts)
        return RunEnd.NEXT

    def _log_ids(self, recipient=None):
        ids = {"campaign_id": self.campaign.pk, "queue_id": self.queue.pk}
        if recipient is not None:
            ids.update(recipient_id=recipient.pk, **email_log_fields(recipient.email))
        return ids
