"""Huey tasks: thin entry points that read the clock and call the mailer's modules."""

import logging
import sqlite3

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, periodic_task
from redis.exceptions import RedisError

from mailer.engine import policy, reconcile, sender
from mailer.smtp_bz import delivery, quota
from mailer.smtp_bz import suppression as provider_suppression
from mailer.spreadsheets import uploads as import_uploads

logger = logging.getLogger(__name__)

SEND_INTERVAL_SECONDS = 30
# What queuing a task raises when the broker (Redis, or SQLite in the embedded mode) is down.
BROKER_ERRORS = (RedisError, OSError, sqlite3.Error)


def _is_working_hours(now=None):
    return policy.is_working_hours(now=now or timezone.now())


@db_task()
def send_pending_emails():
    sender.run_sender_pass()


def wake_sender() -> None:
    """Queues a sender pass now (after staff start, resume or retry a campaign).

    Only a shortcut: with the broker down it is skipped and logged in one line, and the next
    periodic pass (or cron's `mailer_send_now`, see README) sends. The staff action it
    follows is committed already and must not answer with an error.
    """
    try:
        send_pending_emails()
    except BROKER_ERRORS as exc:
        logger.warning("Sender wake-up skipped: the task queue is unavailable", extra={"error": str(exc)})


@db_periodic_task(crontab(minute="*"))
def schedule_send_pending_emails():
    # Huey looks at periodic tasks once a minute; a second run 30 s later makes "every 30 s".
    send_pending_emails()
    send_pending_emails.schedule(delay=SEND_INTERVAL_SECONDS)


@db_periodic_task(crontab(minute="0"))
def sync_smtp_bz_quota():
    quota.sync_quota(now=timezone.now())


@db_periodic_task(crontab(minute="*/5"))
def reconcile_campaign_queue():
    return reconcile.reconcile_queues(now=timezone.now())


@db_periodic_task(crontab(minute="20"))
def sync_smtp_bz_unsubscribes():
    # Hourly, away from the quota sync at :00; a no-op unless MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC.
    return provider_suppression.sync_provider_suppression()


@db_periodic_task(crontab(minute="*/15"))
def sync_delivery_statuses():
    # Bounces and opens from smtp.bz's message log; a no-op without an API key.
    return delivery.sync_delivery_statuses(now=timezone.now())


@db_task()
def push_unsubscribe_to_smtp_bz(email):
    # Queued by suppress() when MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH is on; the hourly sync catches up.
    return provider_suppression.push_one(email)


@periodic_task(crontab(minute="*/10"))
def remove_stale_import_uploads():
    # Uploads nobody confirmed: an hour after upload, at most ten minutes late.
    return import_uploads.remove_stale_uploads(now=timezone.now())
