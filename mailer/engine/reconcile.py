"""Finding what a crashed or stalled sender left behind.

A queue whose heartbeat stopped longer than MAILER_STUCK_AFTER_MINUTES ago is reported. A
recipient claimed that long ago without an outcome may or may not have received its
message, so it is never sent again by itself: it becomes `unknown` (interrupted) and staff
decide with «Повторить неудачные», ticking «включая неизвестные».
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce

from mailer import transitions
from mailer.models import CampaignQueue

logger = logging.getLogger(__name__)

INTERRUPTED = (
    "Отправка прервана: неизвестно, дошло ли письмо. "
    "Повторите вручную («Повторить неудачные» с отметкой «включая неизвестные»), если уверены, что его нет."
)


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
    interrupted = transitions.mark_interrupted(claimed_before=cutoff, text=INTERRUPTED)
    if interrupted:
        logger.warning("Interrupted sends marked unknown, not resent", extra={"recipients": interrupted})
    return {"stuck_queues": len(stuck), "interrupted_recipients": interrupted}
