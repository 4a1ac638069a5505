"""What the mailer is doing now, for the poll endpoint, the dashboard and `mailer_status`.

Every function here costs a fixed number of queries, whatever the number of recipients.
"""

from django.conf import settings
from django.db.models import Count, Q

from . import limits, policy
from .models import CampaignQueue, CampaignRecipient, SmtpBzQuota

Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
WAITING = (Queue.PENDING, Queue.PROCESSING)


def campaign_progress(campaign):
    """Counts by status in one aggregate query; `percent` is the share already dealt with."""
    counts = campaign.recipients.aggregate(
        total=Count("id"),
        sent=Count("id", filter=Q(status=Recipient.SENT)),
        failed=Count("id", filter=Q(status=Recipient.FAILED)),
        pending=Count("id", filter=Q(status__in=[Recipient.PENDING, Recipient.SENDING])),
        unsubscribed=Count("id", filter=Q(status=Recipient.UNSUBSCRIBED)),
    )
    done = counts["total"] - counts["pending"]
    percent = round(100 * done / counts["total"]) if counts["total"] else 0
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "status_text": campaign.get_status_display(),
        **counts,
        "percent": percent,
    }


def reason_text(queue, *, now=None):
    """The defer reason in Russian with the time it goes on: «… Продолжится в 11:00 (МСК).»"""
    if not queue or not queue.defer_reason:
        return ""
    text = CampaignQueue.DeferReason(queue.defer_reason).label
    if queue.deferred_until:
        text += f". Продолжится {_when(queue.deferred_until, now=now)} (МСК)"
    elif queue.defer_reason == CampaignQueue.DeferReason.CIRCUIT_BREAKER:
        text += ". Проверьте настройки почты и возобновите кампанию вручную"
    return text + "."


def _when(moment, *, now=None):
    local = policy.local_time(moment)
    if now is not None and local.date() == policy.local_time(now).date():
        return f"сегодня в {local:%H:%M}"
    return f"{local:%d.%m.%Y в %H:%M}"


def active_queue():
    """The queue the sender works on now, else the next one in line (maybe deferred)."""
    queues = CampaignQueue.objects.select_related("campaign").filter(status__in=WAITING)
    return queues.filter(status=Queue.PROCESSING).first() or queues.first()


def hourly_usage(*, now):
    return {"used": limits.hourly_sent(now=now), "limit": settings.MAILER_RATE_PER_HOUR}


def quota_state():
    quota = SmtpBzQuota.current()
    if quota is None:
        return {"available": None, "limit": None, "last_synced_at": None, "sync_error": ""}
    return {
        "available": quota.emails_available,
        "limit": quota.emails_limit,
        "last_synced_at": quota.last_synced_at.isoformat() if quota.last_synced_at else None,
        "sync_error": quota.sync_error,
    }


def snapshot(*, now, can_see=lambda campaign: True):
    """The whole picture; `can_see(campaign)` hides other managers' campaign names."""
    active = active_queue()
    waiting = CampaignQueue.objects.filter(status__in=WAITING)
    if active:
        waiting = waiting.exclude(pk=active.pk)
    next_queue = waiting.order_by("-priority", "queued_at").first()
    return {
        "now": now.isoformat(),
        "active_campaign": _active(active, can_see),
        "queue_status": active.status if active else None,
        "reason_code": active.defer_reason if active else "",
        "reason_text": reason_text(active, now=now),
        "next_run_at": _next_run_at(active, now=now),
        "queued_count": waiting.count(),
        "next_campaign_at": _next_campaign_at(active, next_queue, now=now),
        "consecutive_transient_errors": active.consecutive_transient_errors if active else 0,
        "hourly": hourly_usage(now=now),
        "quota": quota_state(),
        "working_hours": policy.is_working_hours(now=now),
    }


def _active(queue, can_see):
    if queue is None:
        return None
    progress = campaign_progress(queue.campaign)
    if not can_see(queue.campaign):
        progress.update(id=None, name="Кампания другого менеджера")
    return progress


def _next_run_at(queue, *, now):
    """When the active campaign sends again: its deferral, else now (the sender is on it)."""
    if queue is None or queue.status == Queue.PAUSED:
        return None
    if queue.deferred_until and queue.deferred_until > now:
        return queue.deferred_until.isoformat()
    return now.isoformat()


def _next_campaign_at(active, next_queue, *, now):
    """When the next campaign in line may begin; None: right after the active one ends.

    A campaign deferred by a global gate (hours, rate, quota) holds the line until it goes
    on; one waiting for its owner's daily limit, or paused, lets the next one pass.
    """
    if next_queue is None:
        return None
    own_wait = next_queue.deferred_until if next_queue.deferred_until and next_queue.deferred_until > now else now
    if active is None or active.status == Queue.PAUSED or active.defer_reason == CampaignQueue.DeferReason.DAILY_LIMIT:
        return own_wait.isoformat()
    if active.deferred_until and active.deferred_until > now:
        return max(own_wait, active.deferred_until).isoformat()
    return None
