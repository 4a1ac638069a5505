"""The sending pipeline: one sender at a time works through the campaign queue.

A pass takes the sender lock, continues the campaign in `processing` or takes the next
`pending` one (priority, then FIFO), checks the gates before every message and claims each
recipient in the database before sending, so no address is sent twice even if the lock is
lost. Per message it costs one claim and one outcome (recipient row + SendLog) in the
database and one INCR in the cache.
"""

import logging
import time

from django.conf import settings
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from backoffice.notifications import notify
from mailer import suppression
from mailer.addresses import is_valid_email
from mailer.engine import limits, policy
from mailer.engine.compose import (
    CampaignTemplate,
    Rendered,
    build_message,
    new_message_id,
    recipient_context,
    sample_context,
)
from mailer.engine.smtp import PERMANENT, SmtpConnection, classify_smtp_error
from mailer.engine.templating import CampaignTemplateError
from mailer.models import (
    Campaign,
    CampaignQueue,
    CampaignRecipient,
    GlobalMailAccount,
    SendLog,
    SmtpBzQuota,
    Unsubscribe,
)
from mailer.pii import email_log_fields, redact
from mailer.smtp_bz import quota
from mailer.stored_secrets import UnreadableSecret
from mailer.suppression.tokens import make_test_token, make_token, unsubscribe_url

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
Reason = CampaignQueue.DeferReason
INVALID_ADDRESS = "Некорректный адрес e-mail"


def run_sender_pass(*, clock=timezone.now):
    """One pass of `send_pending_emails`: the lock, then the queue until a gate closes."""
    lock = limits.SenderLock()
    if not lock.acquire():
        logger.info("Another sender holds the lock, skipping this pass")
        return
    try:
        process_queues(clock=clock, lock=lock)
    finally:
        lock.release()


def process_queues(*, clock=timezone.now, lock=None):
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
    while (queue := _next_queue(now=clock(), exclude=tried)) is not None:
        tried.add(queue.pk)
        if CampaignRun(queue, account, clock=clock, lock=lock).run() == RunEnd.STOP_ALL:
            break


def _next_queue(*, now, exclude):
    queues = CampaignQueue.objects.select_related("campaign__created_by").exclude(pk__in=exclude)
    in_progress = queues.filter(status=Queue.PROCESSING).first()
    if in_progress:
        return in_progress
    due = Q(deferred_until__isnull=True) | Q(deferred_until__lte=now)
    return queues.filter(due, status=Queue.PENDING).first()


class RunEnd:
    NEXT = "next"  # this campaign is done or waits alone: try the next one
    STOP_ALL = "stop_all"  # a global gate closed or the pass lost control: stop the pass


class CampaignRun:
    def __init__(self, queue, account, *, clock, lock):
        self.queue = queue
        self.campaign = queue.campaign
        self.account = account
        self.clock = clock
        self.lock = lock
        self.transient_errors = queue.consecutive_transient_errors
        self.quota_row = None
        self.unflushed_quota = 0

    # --- the run ------------------------------------------------------------------------

    def run(self):
        now = self.clock()
        self._measure_budget(now)
        try:
            self.allowance.prepare(now=now)
            deferral = policy.first_blocking_gate(self._budget(), now=now)
            if deferral:
                return self._defer(deferral)
            if not self._claim_queue(now):
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
            self._skip_unsubscribed()
            chunk = self._next_chunk()
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
        still_processing = CampaignQueue.objects.filter(pk=self.queue.pk, status=Queue.PROCESSING).update(
            heartbeat_at=self.clock()
        )
        return bool(still_processing) and (self.lock is None or self.lock.extend())

    def _next_chunk(self):
        pending = self.campaign.recipients.filter(status=Recipient.PENDING)
        return list(pending.select_related("company").order_by("id")[:CHUNK_SIZE])

    def _send_one(self, recipient):
        now = self.clock()
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
        if not self._claim(recipient, message_id, now):
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
        self.owner_sent = owner_sent_today(self.campaign.created_by_id, now=now)
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

    def _defer(self, deferral):
        """Defers this campaign; only the owner's daily limit leaves others free to go."""
        defer_queue(self.queue, deferral)
        return RunEnd.NEXT if deferral.reason == Reason.DAILY_LIMIT else RunEnd.STOP_ALL

    # --- claims -------------------------------------------------------------------------

    def _claim_queue(self, now):
        claimed = CampaignQueue.objects.filter(pk=self.queue.pk, status__in=[Queue.PENDING, Queue.PROCESSING]).update(
            status=Queue.PROCESSING,
            started_at=now if self.queue.status == Queue.PENDING else F("started_at"),
            heartbeat_at=now,
            defer_reason="",
            deferred_until=None,
        )
        if claimed:
            Campaign.objects.filter(pk=self.campaign.pk, status=Campaign.Status.READY).update(
                status=Campaign.Status.SENDING
            )
        return bool(claimed)

    def _claim(self, recipient, message_id, now):
        return CampaignRecipient.objects.filter(pk=recipient.pk, status=Recipient.PENDING).update(
            status=Recipient.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=now,
            smtp_message_id=message_id,
        )

    def _skip_unsubscribed(self):
        suppressed = Unsubscribe.objects.values("email")
        self.campaign.recipients.filter(status=Recipient.PENDING, email__in=suppressed).update(
            status=Recipient.UNSUBSCRIBED
        )

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
            return classify_smtp_error(exc), _ms_since(started)
        return None, _ms_since(started)

    def _on_success(self, recipient, message_id, took_ms):
        # The recipient row is the truth and goes first; the log follows (no transaction:
        # two statements instead of four, and a crash between them loses only a log row).
        still_there = CampaignRecipient.objects.filter(pk=recipient.pk).update(
            status=Recipient.SENT, sent_at=self.clock(), error_kind="", last_error=""
        )
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

    def _on_failure(self, recipient, failure, message_id, took_ms):
        self._record_failure(recipient, failure, message_id, took_ms)
        if failure.kind == PERMANENT:
            if failure.unknown_user:
                suppression.suppress(recipient.email, source=Unsubscribe.Source.BOUNCE, campaign=self.campaign)
            return None
        self._set_transient_errors(self.transient_errors + 1)
        if policy.trips_circuit_breaker(self.transient_errors):
            self._open_circuit_breaker()
            return RunEnd.STOP_ALL
        return None

    def _record_invalid(self, recipient, now):
        marked = CampaignRecipient.objects.filter(pk=recipient.pk, status=Recipient.PENDING).update(
            status=Recipient.FAILED,
            error_kind=CampaignRecipient.ErrorKind.INVALID,
            last_error=INVALID_ADDRESS,
            claimed_at=now,
        )
        if marked:
            self._log_send(recipient, SendLog.Status.FAILED, "", 0, error=INVALID_ADDRESS)
            logger.warning("Email not sent: invalid address", extra=self._log_ids(recipient))

    def _record_failure(self, recipient, failure, message_id, took_ms):
        still_there = CampaignRecipient.objects.filter(pk=recipient.pk).update(
            status=Recipient.FAILED, error_kind=failure.kind, last_error=failure.text
        )
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

    # --- circuit breaker ----------------------------------------------------------------

    def _set_transient_errors(self, count):
        self.transient_errors = count
        CampaignQueue.objects.filter(pk=self.queue.pk).update(consecutive_transient_errors=count)

    def _open_circuit_breaker(self):
        logger.error(
            "Circuit breaker opened: campaign paused after consecutive transient errors",
            extra={**self._log_ids(), "consecutive_transient_errors": self.transient_errors},
        )
        pause_queue(self.queue, defer_reason=Reason.CIRCUIT_BREAKER)
        _notify_owner(
            self.campaign,
            kind="circuit_breaker",
            title=f"Кампания «{self.campaign.name}» остановлена",
            text=(
                f"{self.transient_errors} ошибок SMTP подряд. Проверьте настройки почты и возобновите кампанию вручную."
            ),
            dedupe_key=f"breaker:{self.queue.pk}:{self.queue.queued_at.isoformat()}:{self.transient_errors}",
        )

    def _pause_for_template_error(self, exc):
        logger.error("Campaign paused: its template does not render", extra={**self._log_ids(), "error": exc.problem})
        paused = pause_queue(self.queue, pause_reason=CampaignQueue.PauseReason.TEMPLATE_ERROR, pause_detail=str(exc))
        if paused:
            _notify_owner(
                self.campaign,
                kind="template_error",
                title=f"Кампания «{self.campaign.name}» остановлена",
                text=f"{exc} Исправьте шаблон и возобновите кампанию.",
            )

    # --- completion ---------------------------------------------------------------------

    def _finish(self):
        counts = dict(self.campaign.recipients.values_list("status").annotate(n=Count("id")).order_by())
        if counts.get(Recipient.PENDING) or counts.get(Recipient.SENDING):
            return RunEnd.NEXT  # claimed by someone still sending, or paused mid-chunk
        completed = CampaignQueue.objects.filter(pk=self.queue.pk, status=Queue.PROCESSING).update(
            status=Queue.COMPLETED, completed_at=self.clock(), defer_reason="", deferred_until=None
        )
        if completed:
            self._announce_finished(counts)
        return RunEnd.NEXT

    def _announce_finished(self, counts):
        failed = counts.get(Recipient.FAILED, 0)
        sent = counts.get(Recipient.SENT, 0)
        if not failed:
            Campaign.objects.filter(pk=self.campaign.pk).update(status=Campaign.Status.SENT)
        logger.info(
            "Campaign finished",
            extra={
                **self._log_ids(),
                "finished_with_errors": bool(failed),
                "sent": sent,
                "failed": failed,
                "unsubscribed": counts.get(Recipient.UNSUBSCRIBED, 0),
            },
        )
        text = f"Отправлено: {sent}."
        if failed:
            text += f" Не отправлено: {failed} — их можно повторить кнопкой «Повторить неудачные»."
        _notify_owner(
            self.campaign,
            kind="campaign_finished",
            title=f"Кампания «{self.campaign.name}» завершена",
            text=text,
            dedupe_key=f"finished:{self.queue.pk}:{self.queue.queued_at.isoformat()}",
        )

    def _log_ids(self, recipient=None):
        ids = {"campaign_id": self.campaign.pk, "queue_id": self.queue.pk}
        if recipient is not None:
            ids.update(recipient_id=recipient.pk, **email_log_fields(recipient.email))
        return ids


# --- helpers shared with services and tasks ----------------------------------------------


def owner_sent_today(user_id, *, now):
    """Messages sent today (in the mailer's time zone) from the user's campaigns."""
    return SendLog.objects.filter(
        status=SendLog.Status.SENT,
        campaign__created_by_id=user_id,
        created_at__gte=policy.day_start(now=now),
    ).count()


def defer_queue(queue, deferral):
    """Puts the queue back to wait for `deferral.until` and tells the owner, once."""
    CampaignQueue.objects.filter(pk=queue.pk, status__in=[Queue.PENDING, Queue.PROCESSING]).update(
        status=Queue.PENDING, defer_reason=deferral.reason, deferred_until=deferral.until
    )
    label = Reason(deferral.reason).label
    until = policy.local_time(deferral.until)
    logger.info(
        "Campaign deferred",
        extra={
            "campaign_id": queue.campaign_id,
            "queue_id": queue.pk,
            "defer_reason": deferral.reason,
            "deferred_until": deferral.until.isoformat(),
        },
    )
    _notify_owner(
        queue.campaign,
        kind="campaign_deferred",
        title=f"Кампания «{queue.campaign.name}» отложена",
        text=f"{label}. Отправка продолжится {until:%d.%m.%Y в %H:%M} (МСК).",
        dedupe_key=f"defer:{queue.pk}:{deferral.reason}:{deferral.until.isoformat()}",
    )


def pause_queue(
    queue: CampaignQueue, *, defer_reason: str = "", pause_reason: str = "", pause_detail: str = ""
) -> bool:
    """Pauses a queue the sender holds; returns False when it was no longer waiting or sending
    (staff paused or cancelled it meanwhile)."""
    paused = CampaignQueue.objects.filter(pk=queue.pk, status__in=[Queue.PENDING, Queue.PROCESSING]).update(
        status=Queue.PAUSED,
        defer_reason=defer_reason,
        deferred_until=None,
        pause_reason=pause_reason,
        pause_detail=pause_detail,
    )
    if paused:
        Campaign.objects.filter(pk=queue.campaign_id).update(status=Campaign.Status.PAUSED)
    return bool(paused)


def _notify_owner(campaign, *, kind, title, text, dedupe_key=""):
    notify(
        user=campaign.created_by,
        kind=kind,
        title=title,
        text=text,
        link=reverse("admin:mailer_campaign_change", args=[campaign.pk]),
        dedupe_key=dedupe_key,
    )


def _ms_since(started):
    return int((time.monotonic() - started) * 1000)


def send_test_message(*, campaign, account, to):
    """Sends one test message of the campaign to `to` now; returns its SendLog.

    It renders with the first recipient's data (or a sample), carries a test unsubscribe
    token that unsubscribes nobody, and is logged as `kind=test`.
    """
    template = CampaignTemplate.for_campaign(campaign)
    url = unsubscribe_url(make_test_token(campaign.pk))
    rendered = template.render(sample_context(campaign, email=to, unsubscribe_url=url))
    rendered = Rendered(subject=f"[Тест] {rendered.subject}", html=rendered.html, text=rendered.text)
    message_id = new_message_id(account, idstring=f"c{campaign.pk}.test")
    message = build_message(
        account=account,
        rendered=rendered,
        to=to,
        message_id=message_id,
        unsubscribe_url=url,
        attachments=template.attachments,
    )
    started = time.monotonic()
    failure = None
    try:
        with SmtpConnection(account) as smtp:
            smtp.send(message)
    except OSError as exc:
        failure = classify_smtp_error(exc)
    took_ms = _ms_since(started)
    log = SendLog.objects.create(
        campaign=campaign,
        kind=SendLog.Kind.TEST,
        email=to,
        status=SendLog.Status.FAILED if failure else SendLog.Status.SENT,
        provider=account.smtp_host,
        smtp_message_id=message_id,
        error=failure.text if failure else "",
        took_ms=took_ms,
    )
    fields = {
        "campaign_id": campaign.pk,
        "smtp_message_id": message_id,
        "provider": account.smtp_host,
        "took_ms": took_ms,
        "kind": "test",
        **email_log_fields(to),
    }
    if failure:
        logger.error("Test email failed", extra={**fields, "error": redact(failure.text)})
    else:
        quota.consume(SmtpBzQuota.current())
        logger.info("Test email sent", extra=fields)
    return log
