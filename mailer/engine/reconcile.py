"""Finding what a crashed or stalled sender left behind.

A queue whose heartbeat stopped longer than MAILER_STUCK_AFTER_MINUTES ago is reported. A
recipient claimed without an outcome by a sender that is gone (`interrupted_before`: minutes
after a kill -9, not half an hour) may or may not have received its message, so it is never
sent again by itself: it becomes `unknown` (interrupted) and staff decide with «Повторить
неудачные», ticking «включая неизвестные». The next pass then finishes the campaign.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce

from mailer import transitions
from mailer.engine import cache_view
from mailer.models import CampaignQueue

logger = logging.getLogger(__name__)

INTERRUPTED = (
    "Отправка прервана: неизвестно, дошло ли письмо. "
    "Повторите вручную («Повторить неудачные» с отметкой «включая неизвестные»), если уверены, что его нет."
)


def interrupted_before(*, now: datetime, lock: cache_view.LockState) -> datetime:
    """Claims older than this have no sender left to finish them.

    A send takes at most a few SMTP timeouts, far less than the lock's grace. Whoever holds a
    live lock may have a claim in flight, but only claims it made after it took the lock; one
    made before belongs to a sender that is gone. A live lock of unknown age keeps the old
    half-hour rule.
    """
    after_grace = now - timedelta(seconds=settings.MAILER_SENDER_LOCK_GRACE)
    if lock.entry.error or lock.entry.value is None or lock.stale:
        return after_grace  # no live holder (or lockless senders while the cache is down)
    if lock.taken_at:
        return min(after_grace, lock.taken_at)
    return now - timedelta(minutes=settings.MAILER_STUCK_AFTER_MINUTES)


def reconcile_queues(*, now):
    cutoff = now - timedelta(minutes=settings.MAILER_STUCK_AFTER_MINUTES)
    stuck = list(
        CampaignQueue.objects.filter(status=CampaignQueue.Status.PROCESSING)
        .annotate(last_seen=Coalesce("heartbeat_at", "started_at"))
        .filter(Q(last_seen__lt=cutoff) | Q(last_seen__isnull=True))
    )
    for queue in stuck:
        minutes = int((now - queue.last_seen).total_seconds() // 60) if queue.last_seen else None
        logger.warning(
            "Stuck campaign queue: processing without progress",
            extra={
                "queue_id": queue.pk,
                "campaign_id": queue.campaign_id,
                "started_at": queue.started_at.isoformat() if queue.started_at else None,
                "minutes_stuck": minutes,
            },
        )
    claimed_before = interrupted_before(now=now, lock=cache_view.sender_lock_state())
    interrupted = transitions.mark_interrupted(claimed_before=claimed_before, text=INTERRUPTED)
    if interrupted:
        logger.warning("Interrupted sends marked unknown, not resent", extra={"recipients": interrupted})
    return {"stuck_queues": len(stuck), "interrupted_recipients": interrupted}
