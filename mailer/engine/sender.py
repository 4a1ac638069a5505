"""The sending pipeline: one sender at a time works through the campaign queue.

A pass takes the sender lock, continues the campaign in `processing` or takes the next
`pending` one (priority, then FIFO), checks the gates before every message and claims each
recipient in the database before sending, so no address is sent twice even if the lock is
lost. Per message it costs one statement in the database: the claim, carrying the outcome of
the message before it (outcomes.Ledger), so at most one recipient at a time waits with its
outcome unknown; SendLog rows follow in batches. Every state change goes through
mailer.transitions.
"""

import logging
import time

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from mailer import selectors, suppression, transitions
from mailer.addresses import is_valid_email
from mailer.engine import limits, notices, outcomes, policy, shutdown
from mailer.engine.compose import (
    CampaignTemplate,
    MessageBuildError,
    build_message,
    new_message_id,
    recipient_context,
    serialise,
)
from mailer.engine.one_off import ms_since
from mailer.engine.policy import Deferral
from mailer.engine.smtp import SmtpConnection
from mailer.engine.smtp_errors import MESSAGE, PERMANENT, SENDER, SendFailure, Stage
from mailer.engine.templating import CampaignTemplateError
from mailer.models import (
    CampaignQueue,
    CampaignRecipient,
    GlobalMailAccount,
    SendLog,
    SmtpBzQuota,
    Unsubscribe,
)
from mailer.pii import email_log_fields, redact
from mailer.smtp_bz import quota
from mailer.smtp_bz.delivery_log import campaign_tag
from mailer.stored_secrets import UnreadableSecret
from mailer.suppression.tokens import make_token, unsubscribe_url

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
# Every few messages the run beats its heartbeat and looks again at what staff may have
# changed (pause, the account switched off): they take effect within this many messages.
CHECK_EVERY = 5
Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
Reason = CampaignQueue.DeferReason
PauseReason = CampaignQueue.PauseReason
INVALID_ADDRESS = "Некорректный адрес e-mail"


def run_sender_pass() -> bool:
    """One pass of `send_pending_emails`: the lock, then the queue until a gate closes.
    False when another sender holds the lock (and it is not stale)."""
    lock = limits.SenderLock()
    if not lock.acquire():
        logger.info("Another sender holds the lock, skipping this pass")
        return False
    try:
        process_queues(lock=lock)
    finally:
        lock.release()
    return True


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
    while not shutdown.stop_requested() and (queue := selectors.next_queue(now=timezone.now(), exclude=tried)):
        tried.add(queue.pk)
        if CampaignRun(queue, account, lock=lock).run() == RunEnd.STOP_ALL:
            break


def _build_failure(exc: Exception) -> str:
    return f"Письмо не собрать: {type(exc).__name__}: {exc}"


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
        self.since_check = CHECK_EVERY  # the first message checks
        self.ledger = outcomes.Ledger(campaign_id=self.campaign.pk)

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
                return self._pause(PauseReason.TEMPLATE_ERROR, str(exc))
            except MessageBuildError as exc:
                return self._pause(PauseReason.BUILD_ERROR, str(exc))
            with SmtpConnection(self.account) as self.smtp:
                return self._send_all()
        finally:
            self.allowance.give_back()
            self._flush_quota()

    def _send_all(self):
        try:
            return self._send_chunks()
        finally:
            self.ledger.close()  # the last success and the log rows, however the run ends

    def _send_chunks(self):
        while True:
            self._flush_quota()
            chunk = self._next_chunk()
            if chunk and self._skip_unsubscribed(chunk):
                continue  # some were suppressed: take the chunk again without them
            if not chunk:
                self.ledger.close()
                return self._finish()
            for recipient in chunk:
                if shutdown.stop_requested():
                    logger.info("Campaign run stopped: the process was asked to stop", extra=self._log_ids())
                    return RunEnd.STOP_ALL
                if not self._still_in_control():
                    logger.info("Campaign run stopped: paused, account off or lock lost", extra=self._log_ids())
                    return RunEnd.STOP_ALL
                end = self._send_one(recipient)
                if end:
                    return end

    def _still_in_control(self):
        """Every CHECK_EVERY messages: beats the queue's heartbeat; False once staff paused
        the campaign, switched the account off, or the lock was lost."""
        self.since_check += 1
        if self.since_check < CHECK_EVERY:
            return True
        self.since_check = 0
        ours, enabled = transitions.beat_and_read_account(
            queue_id=self.queue.pk, account_id=self.account.pk, now=timezone.now()
        )
        if not ours:
            return False
        if not enabled:
            # Back in line, with no reason: it goes on when the account is switched on again.
            transitions.defer(queue_id=self.queue.pk, reason=Reason.NONE, until=None)
            return False
        return self.lock is None or self.lock.extend()

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
        if self.lock is not None and not self.lock.beat():
            return RunEnd.STOP_ALL  # taken over as stale: the new holder goes on
        self.allowance.prepare(now=now)
        deferral = policy.first_blocking_gate(self._budget(), now=now)
        if deferral:
            return self._defer(deferral)
        if not is_valid_email(recipient.email):
            self._record_invalid(recipient, now)
            return None
        message_id = new_message_id(self.account, idstring=f"c{self.campaign.pk}.r{recipient.pk}")
        try:
            # Built before the claim: a template or a message that fails leaves the recipient
            # pending and pauses only its own campaign; the pass goes on with the next one.
            message = serialise(self._compose(recipient, message_id))
        except CampaignTemplateError as exc:
            return self._pause(PauseReason.TEMPLATE_ERROR, str(exc))
        except Exception as exc:  # whatever breaks one message must not stop every campaign
            return self._pause(PauseReason.BUILD_ERROR, _build_failure(exc))
        if not self.ledger.claim(recipient_id=recipient.pk, message_id=message_id, now=now):
            return None  # another sender has it
        self.allowance.use()
        try:
            failure, took_ms = self._deliver(message)
        except Exception as exc:  # whatever breaks in the SMTP client: not a byte of it went
            transitions.release_claim(recipient_id=recipient.pk, text=_build_failure(exc))
            return self._pause(PauseReason.BUILD_ERROR, _build_failure(exc))
        if failure:
            return self._on_failure(recipient, failure, message_id, took_ms)
        self._on_success(recipient, message_id, took_ms)
        return None

    # --- budget and gates ---------------------------------------------------------------

    def _measure_budget(self, now):
        """Reads the figures the gates need once per run; the run keeps them current."""
        self.quota_row = SmtpBzQuota.current()
        self.owner_sent = selectors.owner_sent_today(self.campaign.created_by_id, now=now, unlogged=True)
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
            tag=campaign_tag(self.campaign.pk),
        )

    def _deliver(self, message):
        started = time.monotonic()
        failure = self.smtp.send(message)
        return failure, ms_since(started)

    def _on_success(self, recipient, message_id, took_ms):
        # Written with the next claim (or on its own when none follows): see outcomes.Ledger.
        self.ledger.sent(recipient, now=timezone.now(), **self._log_fields(message_id, took_ms))
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
        if failure.pauses_campaign:
            return self._pause_for_refusal(recipient, failure, message_id, took_ms)
        still_there = self._record_failure(recipient, failure, message_id, took_ms)
        if failure.kind == PERMANENT:
            if failure.unknown_user:  # (its campaign may be gone with the recipient: see _log_send)
                campaign = self.campaign if still_there else None
                suppression.suppress(recipient.email, source=Unsubscribe.Source.BOUNCE, campaign=campaign)
            return None
        self._set_transient_errors(self.transient_errors + 1)
        if policy.trips_circuit_breaker(self.transient_errors):
            transitions.pause(campaign_id=self.campaign.pk, defer_reason=Reason.CIRCUIT_BREAKER)
            notices.circuit_breaker_opened(self.queue, errors=self.transient_errors)
            return RunEnd.STOP_ALL
        return None

    def _record_invalid(self, recipient, now):
        self.ledger.settle()  # the log keeps the order of the attempts
        if transitions.record_invalid(recipient_id=recipient.pk, now=now, text=INVALID_ADDRESS):
            self._log_send(recipient, SendLog.Status.FAILED, "", 0, error=INVALID_ADDRESS)
            logger.warning("Email not sent: invalid address", extra=self._log_ids(recipient))

    def _pause_for_refusal(self, recipient, failure, message_id, took_ms):
        """The sender, the account or the message is refused: the recipient goes back in
        line and the campaign pauses (the pass stops too when the account is refused: every
        campaign would meet the same answer)."""
        self._record_failure(recipient, failure, message_id, took_ms)
        reason = PauseReason.MESSAGE_REFUSED if failure.kind == MESSAGE else PauseReason.SENDER_REFUSED
        detail = failure.describe()
        if failure.stage == Stage.RCPT:  # a policy refusal may yet be about this one address
            detail += f". Получатель: {recipient.email} — если дело в этом адресе, удалите его из кампании"
        self._pause(reason, detail)
        return RunEnd.STOP_ALL if failure.kind == SENDER else RunEnd.NEXT

    def _record_failure(self, recipient, failure, message_id, took_ms):
        still_there, error = outcomes.record_failure(recipient.pk, failure)
        self._log_send(recipient, SendLog.Status.FAILED, message_id, took_ms, error=error, still_there=still_there)
        logger.error(
            "Email send failed",
            extra={
                **self._log_ids(recipient),
                "smtp_stage": failure.stage,
                "error_kind": failure.kind,
                "error": redact(failure.text),
                "smtp_message_id": message_id,
                "provider": self.account.smtp_host,
                "took_ms": took_ms,
            },
        )
        return still_there

    def _log_send(self, recipient, status, message_id, took_ms, *, error="", still_there=True):
        fields = self._log_fields(message_id, took_ms, error=error)
        self.ledger.log(recipient, still_there=still_there, status=status, **fields)

    def _log_fields(self, message_id, took_ms, *, error=""):
        return {"provider": self.account.smtp_host, "smtp_message_id": message_id, "error": error, "took_ms": took_ms}

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

    def _pause(self, reason: str, detail: str) -> str:
        """The sender stops this campaign for a reason staff must fix; others go on."""
        paused = transitions.pause(campaign_id=self.campaign.pk, pause_reason=reason, pause_detail=detail)
        notices.paused_by_sender(self.queue, reason=reason, detail=detail, paused=paused)
        return RunEnd.NEXT

    # --- completion ---------------------------------------------------------------------

    def _finish(self):
        counts = dict(self.campaign.recipients.values_list("status").annotate(n=Count("id")).order_by())
        if counts.get(Recipient.PENDING) or counts.get(Recipient.SENDING):
            return RunEnd.NEXT  # claimed by someone still sending, or paused mid-chunk
        if transitions.complete(queue_id=self.queue.pk, now=timezone.now()):
            if not counts.get(Recipient.FAILED) and not counts.get(Recipient.UNKNOWN):
                transitions.mark_campaign_sent(campaign_id=self.campaign.pk)
            notices.finished(self.queue, counts)
        return RunEnd.NEXT

    def _log_ids(self, recipient=None):
        ids = {"campaign_id": self.campaign.pk, "queue_id": self.queue.pk}
        if recipient is not None:
            ids.update(recipient_id=recipient.pk, **email_log_fields(recipient.email))
        return ids
