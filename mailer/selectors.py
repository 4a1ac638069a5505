"""Read models: what the mailer is doing now, for the poll endpoint, the dashboard, the campaign
and queue screens, `mailer_status` and the sender itself.

Results are frozen dataclasses holding datetimes (aware); whoever shows them formats them:
the poll endpoint turns them into JSON (`as_json`, times in the mailer's zone), the dashboard
and `mailer_status` into Russian text. Every function costs a fixed number of queries,
whatever the number of recipients.
"""

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q

from mailer.campaign_status import OTHER_MANAGERS_CAMPAIGN, Planned, campaign_status_text, planned, scheduled_label
from mailer.engine import limits, policy
from mailer.models import Campaign, CampaignQueue, CampaignRecipient, GlobalMailAccount, SendLog, SmtpBzQuota
from mailer.recipient_counts import Counts, recipient_counts

Queue = CampaignQueue.Status
Recipient = CampaignRecipient.Status
WAITING = (Queue.PENDING, Queue.PROCESSING)


@dataclass(frozen=True)
class Progress:
    """A campaign's recipients by status; `percent` is the share already dealt with."""

    id: int | None  # None: another manager's campaign, shown without its name
    name: str
    status: str
    status_text: str
    total: int
    sent: int
    failed: int
    pending: int  # waiting or being sent
    unsubscribed: int
    unknown: int  # the message may have arrived: never resent unless staff ask
    percent: int

    @property
    def done(self) -> int:
        return self.total - self.pending


@dataclass(frozen=True)
class QueueState:
    """Where one campaign stands in the queue, and why it waits."""

    queue_status: str | None  # None: never started
    reason_code: str
    reason_text: str
    deferred_until: datetime | None
    pause_reason: str
    pause_detail: str


@dataclass(frozen=True)
class HourlyUsage:
    used: int | None  # None: the cache cannot be read
    limit: int


@dataclass(frozen=True)
class DailyUsage:
    used: int
    limit: int  # 0: no daily limit


@dataclass(frozen=True)
class OwnerUsage:
    user_id: int
    username: str
    sent: int


@dataclass(frozen=True)
class QuotaState:
    available: int | None  # None: never synced
    limit: int | None
    last_synced_at: datetime | None
    sync_error: str


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    active_campaign: Progress | None
    queue_status: str | None
    reason_code: str
    reason_text: str
    next_run_at: datetime | None
    queued_count: int
    next_campaign_at: datetime | None  # None: right after the active one ends
    consecutive_transient_errors: int
    hourly: HourlyUsage
    quota: QuotaState
    working_hours: bool
    planned: list[Planned]  # the soonest PLANNED_SHOWN


@dataclass(frozen=True)
class QueueRow:
    """One campaign still in line, for `mailer_status`."""

    queue_id: int
    campaign_id: int
    campaign: str
    owner: str
    status: str
    state: str  # the status, or "deferred" for a pending queue waiting for its time
    defer_reason: str
    pause_reason: str
    reason_text: str
    deferred_until: datetime | None
    queued_at: datetime
    recipients_total: int
    recipients_done: int
    consecutive_transient_errors: int


def as_json(value: Any) -> Any:
    """A read model as JSON-ready data: dataclasses as objects, times as ISO strings in the
    mailer's zone (as staff read them)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, datetime):
        return policy.local_time(value).isoformat()
    return value


# --- the sender's own reads ---------------------------------------------------------------------


def next_queue(*, now: datetime, exclude: Iterable[int] = ()) -> CampaignQueue | None:
    """The queue the sender works on next: the one it holds (`processing`), else the first
    waiting one that is due (priority, then FIFO), skipping `exclude` (tried this pass)."""
    queues = CampaignQueue.objects.select_related("campaign__created_by").exclude(pk__in=exclude)
    in_progress = queues.filter(status=Queue.PROCESSING).first()
    if in_progress:
        return in_progress
    due = Q(deferred_until__isnull=True) | Q(deferred_until__lte=now)
    return queues.filter(due, status=Queue.PENDING).first()


def owner_sent_today(user_id: int, *, now: datetime, unlogged: bool = False) -> int:
    """Messages sent today (in the mailer's time zone) from the user's campaigns: what the
    daily-limit gate counts. With `unlogged` (the sender, once per run) also recipients sent
    today whose SendLog row was never written: the sender writes them in batches, and a run
    killed outright loses its last one."""
    day_start = policy.day_start(now=now)
    mine = {"campaign__created_by_id": user_id, "status": SendLog.Status.SENT}
    logs = SendLog.objects.filter(**mine, created_at__gte=day_start)
    if not unlogged:
        return logs.count()
    logged = SendLog.objects.filter(recipient=OuterRef("pk"), status=SendLog.Status.SENT)
    sent = CampaignRecipient.objects.filter(~Exists(logged), **mine, sent_at__gte=day_start)
    return logs.count() + sent.count()


def daily_usage_of(user, *, now: datetime) -> DailyUsage:
    return DailyUsage(used=owner_sent_today(user.pk, now=now), limit=GlobalMailAccount.load().per_user_daily_limit)


# --- one campaign ---------------------------------------------------------------------------------


def campaign_progress(campaign: Campaign) -> Progress:
    counts = recipient_counts([campaign.pk])[campaign.pk]
    return Progress(
        id=campaign.pk,
        name=campaign.name,
        status=campaign.status,
        status_text=campaign_status_text(campaign, failed=counts.failed)[1],
        percent=counts.percent,
        **dataclasses.asdict(counts),
    )


def queue_state(queue: CampaignQueue | None, *, now: datetime) -> QueueState:
    return QueueState(
        queue_status=queue.status if queue else None,
        reason_code=queue.defer_reason if queue else "",
        reason_text=reason_text(queue, now=now),
        deferred_until=queue.deferred_until if queue else None,
        pause_reason=queue.pause_reason if queue else "",
        pause_detail=queue.pause_detail if queue else "",
    )


def reason_label(reason: str) -> str:
    """A defer reason as staff read it; outside working hours names the hours."""
    label = CampaignQueue.DeferReason(reason).label
    if reason == CampaignQueue.DeferReason.OUTSIDE_HOURS:
        return f"{label} ({policy.working_hours_label()})"
    return label


def reason_text(queue: CampaignQueue | None, *, now: datetime | None = None) -> str:
    """Why the campaign waits, in Russian: the sender's pause with what staff must fix, or the
    defer reason with the time it goes on («… Продолжится в 11:00 (МСК).»)."""
    if queue and queue.pause_reason:
        what = queue.pause_detail or CampaignQueue.PauseReason(queue.pause_reason).label + "."
        return f"{what} Исправьте и нажмите «Возобновить»."
    if not queue or not queue.defer_reason:
        return ""
    if queue.defer_reason == CampaignQueue.DeferReason.SCHEDULED and queue.deferred_until:
        return f"{scheduled_label(queue.deferred_until)}."
    text = reason_label(queue.defer_reason)
    if queue.deferred_until:
        text += f". Продолжится {_when(queue.deferred_until, now=now)} ({policy.zone_label()})"
    elif queue.defer_reason == CampaignQueue.DeferReason.CIRCUIT_BREAKER:
        text += ". Проверьте настройки почты и возобновите кампанию вручную"
    return text + "."


def _when(moment: datetime, *, now: datetime | None = None) -> str:
    local = policy.local_time(moment)
    if now is not None and local.date() == policy.local_time(now).date():
        return f"сегодня в {local:%H:%M}"
    return f"{local:%d.%m.%Y в %H:%M}"


# --- the whole picture ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The queues waiting, as the sender sees them: the one it works on now (else the next
    in line, maybe deferred), the others after it in its order, and the planned ones whose
    time has not come (they join the line then)."""

    active: CampaignQueue | None
    waiting: list[CampaignQueue]
    planned_later: list[CampaignQueue]


def waiting_queues(*, now: datetime) -> Line:
    """The line in one query."""
    queues = CampaignQueue.objects.select_related("campaign").filter(status__in=WAITING)
    line, later = [], []
    for queue in queues.order_by("-priority", "queued_at", "id"):
        is_later = queue.defer_reason == CampaignQueue.DeferReason.SCHEDULED and queue.deferred_until > now
        (later if is_later else line).append(queue)
    active = next((q for q in line if q.status == Queue.PROCESSING), line[0] if line else None)
    return Line(active=active, waiting=[q for q in line if q is not active], planned_later=later)


def hourly_usage(*, now: datetime) -> HourlyUsage:
    return HourlyUsage(used=limits.hourly_sent(now=now), limit=settings.MAILER_RATE_PER_HOUR)


def quota_state() -> QuotaState:
    quota = SmtpBzQuota.current()
    if quota is None:
        return QuotaState(available=None, limit=None, last_synced_at=None, sync_error="")
    return QuotaState(
        available=quota.emails_available,
        limit=quota.emails_limit,
        last_synced_at=quota.last_synced_at,
        sync_error=quota.sync_error,
    )


def snapshot(
    *,
    now: datetime,
    can_see: Callable[[Campaign], bool] = lambda campaign: True,
    line: Line | None = None,
) -> Snapshot:
    """The whole picture; `can_see(campaign)` hides other managers' campaign names; `queues`:
    waiting_queues(now=now) when the caller has read them already."""
    line = line or waiting_queues(now=now)
    active, waiting = line.active, line.waiting
    next_in_line = waiting[0] if waiting else None
    return Snapshot(
        now=now,
        active_campaign=_active(active, can_see),
        queue_status=active.status if active else None,
        reason_code=active.defer_reason if active else "",
        reason_text=reason_text(active, now=now),
        next_run_at=_next_run_at(active, now=now),
        queued_count=len(waiting),
        next_campaign_at=_next_campaign_at(active, next_in_line, now=now),
        consecutive_transient_errors=active.consecutive_transient_errors if active else 0,
        hourly=hourly_usage(now=now),
        quota=quota_state(),
        working_hours=policy.is_working_hours(now=now),
        planned=planned(line.planned_later, can_see=can_see),
    )


def _active(queue: CampaignQueue | None, can_see: Callable[[Campaign], bool]) -> Progress | None:
    if queue is None:
        return None
    progress = campaign_progress(queue.campaign)
    if not can_see(queue.campaign):
        progress = dataclasses.replace(progress, id=None, name=OTHER_MANAGERS_CAMPAIGN)
    return progress


def _next_run_at(queue: CampaignQueue | None, *, now: datetime) -> datetime | None:
    """When the active campaign sends again: its deferral, else now (the sender is on it)."""
    if queue is None or queue.status == Queue.PAUSED:
        return None
    if queue.deferred_until and queue.deferred_until > now:
        return queue.deferred_until
    return now


def _next_campaign_at(
    active: CampaignQueue | None, next_in_line: CampaignQueue | None, *, now: datetime
) -> datetime | None:
    """When the next campaign in line may begin; None: right after the active one ends.

    A campaign deferred by a global gate (hours, rate, quota) holds the line until it goes
    on; one waiting for its owner's daily limit or its planned time, or paused, lets the
    next one pass.
    """
    if next_in_line is None:
        return None
    own_wait = max(next_in_line.deferred_until or now, now)
    lets_pass = (CampaignQueue.DeferReason.DAILY_LIMIT, CampaignQueue.DeferReason.SCHEDULED)
    if active is None or active.status == Queue.PAUSED or active.defer_reason in lets_pass:
        return own_wait
    if active.deferred_until and active.deferred_until > now:
        return max(own_wait, active.deferred_until)
    return None


# --- for `manage.py mailer_status`: what the checklist reads with SQL and redis-cli --------------


def queue_overview(*, now: datetime) -> list[QueueRow]:
    """Every campaign still in line (processing, pending, paused) in the sender's order, with
    its progress: two queries."""
    waiting = CampaignQueue.objects.select_related("campaign__created_by").filter(status__in=[*WAITING, Queue.PAUSED])
    queues = list(waiting.order_by("-priority", "queued_at", "id"))
    counts = recipient_counts(queue.campaign_id for queue in queues)
    return [_queue_row(queue, counts[queue.campaign_id], now=now) for queue in queues]


def _queue_row(queue: CampaignQueue, counts: Counts, *, now: datetime) -> QueueRow:
    deferred = queue.status == Queue.PENDING and queue.deferred_until is not None and queue.deferred_until > now
    return QueueRow(
        queue_id=queue.pk,
        campaign_id=queue.campaign_id,
        campaign=queue.campaign.name,
        owner=queue.campaign.created_by.get_username(),
        status=queue.status,
        state="deferred" if deferred else queue.status,
        defer_reason=queue.defer_reason,
        pause_reason=queue.pause_reason,
        reason_text=reason_text(queue, now=now),
        deferred_until=queue.deferred_until,
        queued_at=queue.queued_at,
        recipients_total=counts.total,
        recipients_done=counts.done,
        consecutive_transient_errors=queue.consecutive_transient_errors,
    )


def daily_usage(*, now: datetime) -> list[OwnerUsage]:
    """Messages sent today per campaign owner: the figures the daily-limit gate counts."""
    rows = (
        SendLog.objects.filter(
            status=SendLog.Status.SENT, campaign__isnull=False, created_at__gte=policy.day_start(now=now)
        )
        .values(user_id=F("campaign__created_by_id"), username=F("campaign__created_by__username"))
        .annotate(sent=Count("id"))
        .order_by("-sent", "username")
    )
    return [OwnerUsage(**row) for row in rows]
