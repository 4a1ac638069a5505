"""One message sent now, outside the queue: the campaign's test e-mail (staff ask for it)."""

import logging
import time

from mailer.engine.compose import CampaignTemplate, Rendered, build_message, new_message_id, sample_context
from mailer.engine.smtp import SmtpConnection
from mailer.models import SendLog, SmtpBzQuota
from mailer.pii import email_log_fields, redact
from mailer.smtp_bz import quota
from mailer.suppression.tokens import make_test_token, unsubscribe_url

logger = logging.getLogger(__name__)


def ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def send_test_message(*, campaign, account, to, recipient=None):
    """Sends one test message of the campaign to `to` now; returns its SendLog.

    It renders with `recipient`'s data (else the first recipient's, or a sample), carries a
    test unsubscribe token that unsubscribes nobody, and is logged as `kind=test`.
    """
    template = CampaignTemplate.for_campaign(campaign)
    url = unsubscribe_url(make_test_token(campaign.pk))
    rendered = template.render(sample_context(campaign, email=to, unsubscribe_url=url, recipient=recipient))
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
    with SmtpConnection(account) as smtp:
        failure = smtp.send(message)
    took_ms = ms_since(started)
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
