"""What the mailer is doing now, for the poll endpoint, the dashboard and `mailer_status`.

Every function here costs a fixed number of queries, whatever the number of recipients.
"""

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import Count, F, Q

from mailer.engine import limits, policy
from mailer.models import CampaignQueue, CampaignRecipient, SendLog, SmtpBzQuota

Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
WAITING = (Queue.PENDING, Queue.PROCESSING)


def next_queue(*, now, exclude=()):
    """The queue the sender works on next: the one it holds (`processing`), else the first
    waiting one that is due (priority, then FIFO), skipping `exclude` (tried this pass)."""
    queues = CampaignQueue.objects.select_related("campaign__created_by").exclude(pk__in=exclude)
    in_progress = queues.filter(status=Queue.PROCESSING).first()
    if in_progress:
        return in_progress
    due = Q(deferred_until__isnull=True) | Q(deferred_until__lte=now)
    return queues.filter(due, status=Queue.PENDING).first()


def owner_sent_today(user_id, *, now):
    """Messages sent today (in the mailer's time zone) from the user's campaigns: what the
    daily-limit gate counts."""
    return SendLog.objects.filter(
        status=SendLog.Status.SENT,
        campaign__created_by_id=user_id,
        created_at__gte=policy.day_start(now=now),
    ).count()


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


def reason_label(reason: str) -> str:
    """A defer reason as staff read it; outside working hours names the hours."""
    label = CampaignQueue.DeferReason(reason).label
    if reason == CampaignQueue.DeferReason.OUTSIDE_HOURS:
        return f"{label} ({policy.working_hours_label()})"
    return label


def reason_text(queue, *, now=None):
    """Why the campaign waits, in Russian: the sender's pause with what staff must fix, or the
    defer reason with the time it goes on («… Продолжится в 11:00 (МСК).»)."""
    if queue and queue.pause_reason:
        what = queue.pause_detail or CampaignQueue.PauseReason(queue.pause_reason).label + "."
        return f"{what} Исправьте и нажмите «Возобновить»."
    if not queue or not queue.defer_reason:
        return ""
    text = reason_label(queue.defer_reason)
    if queue.deferred_until:
        text += f". Продолжится {_when(queue.deferred_until, now=now)} ({policy.zone_label()})"
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
        "last_synced_at": local_iso(quota.last_synced_at),
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
        "now": local_iso(now),
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


def local_iso(moment):
    """Times go out in the mailer's time zone, as staff read them."""
    return policy.local_time(moment).isoformat() if moment else None


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
        return local_iso(queue.deferred_until)
    return local_iso(now)


def _next_campaign_at(active, next_queue, *, now):
    """When the next campaign in line may begin; None: right after the active one ends.

    A campaign deferred by a global gate (hours, rate, quota) holds the line until it goes
    on; one waiting for its owner's daily limit, or paused, lets the next one pass.
    """
    if next_queue is None:
        return None
    own_wait = next_queue.deferred_until if next_queue.deferred_until and next_queue.deferred_until > now else now
    if active is None or active.status == Queue.PAUSED or active.defer_reason == CampaignQueue.DeferReason.DAILY_LIMIT:
        return local_iso(own_wait)
    if active.deferred_until and active.deferred_until > now:
        return local_iso(max(own_wait, active.deferred_until))
    return None


# --- for `manage.py mailer_status`: what the checklist reads with SQL and redis-cli --------


def with_progress(queues):
    """Annotates each queue with `total` and `done` recipients, in the same query."""
    dealt_with = ~Q(campaign__recipients__status__in=[Recipient.PENDING, Recipient.SENDING])
    return queues.annotate(total=Count("campaign__recipients"), done=Count("campaign__recipients", filter=dealt_with))


def queue_overview():
    """Every campaign still in line (processing, pending, paused) in the sender's order,
    with its progress, in one query."""
    waiting = CampaignQueue.objects.select_related("campaign__created_by").filter(status__in=[*WAITING, Queue.PAUSED])
    return list(with_progress(waiting).order_by("-priority", "queued_at", "id"))


def daily_usage(*, now):
    """Messages sent today per campaign owner: the figures the daily-limit gate counts."""
    return list(
        SendLog.objects.filter(
            status=SendLog.Status.SENT, campaign__isnull=False, created_at__gte=policy.day_start(now=now)
        )
        .values(user_id=F("campaign__created_by_id"), username=F("campaign__created_by__username"))
        .annotate(sent=Count("id"))
        .order_by("-sent", "username")
    )


def cache_entry(key):
    """A raw cache key as redis-cli shows it: `value`, and `ttl` in seconds (None: no key
    or no expiry). `ttl_known` is False when the cache is not Redis (Django's cache API has
    no TTL); `error` is set when the cache cannot be reached."""
    entry = {"key": key, "value": None, "ttl": None, "ttl_known": False, "error": ""}
    try:
        entry["value"] = cache.get(key)
        entry["ttl"], entry["ttl_known"] = _redis_ttl(key)
    except limits.CACHE_ERRORS as exc:
        entry["error"] = str(exc)
    return entry


def _redis_ttl(key):
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None, False
    # The backend's own client (a private attribute): the same server and database the
    # mailer writes to, whatever CACHES says.
    seconds = backend._cache.get_client(key, write=False).ttl(backend.make_key(key))
    return (seconds if seconds >= 0 else None), True


def throttle_state(user):
    """This clock hour's throttle counters of one user, with their limits."""
    return [
        {"action": action, "limit": limits.throttle_limit(action), **cache_entry(limits.throttle_key(action, user.pk))}
        for action in limits.THROTTLE_LIMIT_SETTINGS
    ]
