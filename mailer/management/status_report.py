"""The operator's one-screen report behind `manage.py mailer_status`: gathered from the
selectors (typed, with datetimes), then printed as Russian text or as JSON (`--json`).

It shows what the checklist reads with SQL and redis-cli: the queue, the hourly counter, the
daily usage, the quota, the sender lock and a user's throttles. No recipient address appears.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings

from mailer import selectors
from mailer.engine import cache_view, limits, policy
from mailer.models import CampaignQueue, GlobalMailAccount

Queue = CampaignQueue.Status
THROTTLE_TITLES = {"campaign_start": "запуск кампаний", "send_test_email": "тестовые письма"}


@dataclass(frozen=True)
class StatusReport:
    now: datetime
    account: GlobalMailAccount
    snapshot: selectors.Snapshot
    queues: list[selectors.QueueRow]
    daily: list[selectors.OwnerUsage]
    sender_lock: cache_view.LockState
    hourly_in_database: int | None  # this hour's sends by the database, when the counter is unreadable
    user: object | None  # whose throttles are shown
    throttles: list[cache_view.ThrottleState] | None


def build(*, now: datetime, user=None) -> StatusReport:
    snapshot = selectors.snapshot(now=now)
    return StatusReport(
        now=now,
        account=GlobalMailAccount.load(),
        snapshot=snapshot,
        queues=selectors.queue_overview(now=now),
        daily=selectors.daily_usage(now=now),
        sender_lock=cache_view.sender_lock_state(),
        hourly_in_database=limits.database_hourly_count(now=now) if snapshot.hourly.used is None else None,
        user=user,
        throttles=cache_view.throttle_state(user) if user is not None else None,
    )


# --- JSON ------------------------------------------------------------------------------------------


def as_json(report: StatusReport) -> dict:
    """The report as `--json` prints it (times in the mailer's zone)."""
    snapshot, account = report.snapshot, report.account
    return selectors.as_json(
        {
            "now": report.now,
            "account": {"enabled": account.is_enabled, "host": account.smtp_host, "port": account.smtp_port},
            "working_hours": {
                "enabled": settings.MAILER_WORKING_HOURS_ENABLED,
                "open": snapshot.working_hours,
                "start": settings.MAILER_WORKING_HOURS_START,
                "end": settings.MAILER_WORKING_HOURS_END,
            },
            "queue": {
                "active": snapshot.active_campaign,
                "active_status": snapshot.queue_status,
                "reason_code": snapshot.reason_code,
                "reason_text": snapshot.reason_text,
                "next_run_at": snapshot.next_run_at,
                "consecutive_transient_errors": snapshot.consecutive_transient_errors,
                "queued_count": snapshot.queued_count,
                "next_campaign_at": snapshot.next_campaign_at,
                "queues": report.queues,
            },
            "hourly": {
                **asdict(snapshot.hourly),
                "key": limits.hourly_rate_key(now=report.now),
                "used_in_database": report.hourly_in_database,
            },
            "daily": {"limit": account.per_user_daily_limit, "users": report.daily},
            "quota": snapshot.quota,
            "sender_lock": {
                **asdict(report.sender_lock.entry),
                "silent_for": report.sender_lock.silent_for,
                "stale": report.sender_lock.stale,
                "taken_at": report.sender_lock.taken_at,
                "ttl_setting": settings.MAILER_SENDER_LOCK_TTL,
                "grace_setting": settings.MAILER_SENDER_LOCK_GRACE,
            },
            "throttles": None
            if report.user is None
            else {
                "user": report.user.get_username(),
                "user_id": report.user.pk,
                "items": [{"action": t.action, "limit": t.limit, **asdict(t.entry)} for t in report.throttles],
            },
        }
    )


# --- text ------------------------------------------------------------------------------------------


def render(report: StatusReport) -> str:
    sections = [
        _header(report),
        _queue_text(report),
        _hourly_text(report),
        _daily_text(report),
        _quota_text(report.snapshot.quota),
        _lock_text(report.sender_lock),
        _throttles_text(report),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(report):
    account = report.account
    window = policy.working_hours_label()
    if not settings.MAILER_WORKING_HOURS_ENABLED:
        hours_line = f"Рабочее время ({window}): проверка выключена (MAILER_WORKING_HOURS_ENABLED=false)"
    else:
        now_open = "рабочее" if report.snapshot.working_hours else "нерабочее — отправка ждёт"
        hours_line = f"Рабочее время ({window}): сейчас {now_open}"
    enabled = "включена" if account.is_enabled else "ВЫКЛЮЧЕНА (включите в «Настройках почты»)"
    return "\n".join(
        [
            f"Состояние рассылок на {_moment(report.now)} ({policy.zone_label()})",
            f"Отправка: {enabled}; SMTP {account.smtp_host}:{account.smtp_port}",
            hours_line,
        ]
    )


def _queue_text(report):
    snapshot = report.snapshot
    lines = ["Очередь"]
    active = snapshot.active_campaign
    others = [q for q in report.queues if not active or q.campaign_id != active.id]
    if active:
        lines += _active_lines(snapshot, active)
    else:
        lines.append("  Активной кампании нет.")
    for state, title in (("pending", "Ожидают"), ("deferred", "Отложены"), ("paused", "На паузе")):
        group = [q for q in others if q.state == state]
        lines.append(f"  {title}: {len(group) or 'нет'}")
        lines += [f"    {_queue_line(q)}" for q in group]
    if snapshot.next_campaign_at:
        lines.append(f"  Следующая кампания начнётся: {_moment(snapshot.next_campaign_at)} ({policy.zone_label()})")
    return "\n".join(lines)


def _active_lines(snapshot, active):
    state = "отправляется" if snapshot.queue_status == Queue.PROCESSING else "первая в очереди"
    name = f"«{active.name}» (кампания #{active.id})" if active.id else active.name
    lines = [
        f"  Активная: {name} — {state}",
        f"    прогресс {active.done}/{active.total} ({active.percent} %): "
        f"отправлено {active.sent}, ошибок {active.failed}, ожидают {active.pending}, "
        f"отписались {active.unsubscribed}",
        f"    временных ошибок SMTP подряд: {snapshot.consecutive_transient_errors}",
    ]
    if snapshot.reason_text:
        lines.append(f"    отложена: {snapshot.reason_text}")
    return lines


def _queue_line(q):
    text = f"«{q.campaign}» (кампания #{q.campaign_id}, {q.owner}) — {q.recipients_done}/{q.recipients_total}"
    if q.reason_text:
        return f"{text}; {q.reason_text}"
    return f"{text}; в очереди с {_moment(q.queued_at)}"


def _hourly_text(report):
    hourly = report.snapshot.hourly
    key = limits.hourly_rate_key(now=report.now)
    if hourly.used is None:
        return (
            f"Лимит в час: кеш недоступен (ключ {key}); по базе в этом часе отправлено "
            f"{report.hourly_in_database} из {hourly.limit} — по ней отправитель и держит лимит"
        )
    return f"Лимит в час: {hourly.used} из {hourly.limit} (ключ {key})"


def _daily_text(report):
    limit = report.account.per_user_daily_limit or "без лимита"
    lines = [f"Отправлено сегодня по менеджерам (дневной лимит: {limit})"]
    lines += [f"  {row.username}: {row.sent}" for row in report.daily] or ["  пока ничего"]
    return "\n".join(lines)


def _quota_text(quota):
    if quota.available is None:
        line = "Квота smtp.bz: ещё не синхронизировалась (проверка квоты не ограничивает отправку)"
    else:
        synced = f"{_moment(quota.last_synced_at)} ({policy.zone_label()})" if quota.last_synced_at else "никогда"
        line = f"Квота smtp.bz: осталось {quota.available} из {quota.limit}, синхронизирована {synced}"
    if quota.sync_error:
        line += f"\n  ошибка последней синхронизации: {quota.sync_error}"
    return line


def _lock_text(state):
    lock = state.entry
    head = f"Блокировка отправителя ({lock.key}): "
    if lock.error:
        return head + f"нет данных — кеш недоступен ({lock.error})"
    if lock.value is None:
        return head + "свободна"
    ttl = f"{_ttl(lock)} из {settings.MAILER_SENDER_LOCK_TTL} с" if lock.ttl is not None else _ttl(lock)
    text = head + f"занята (значение {lock.value}); {ttl}"
    if state.taken_at:
        text += f"; взята {_moment(state.taken_at)}"
    if state.silent_for is not None:
        text += f"; держатель молчит {state.silent_for} с"
    if state.stale:
        text += (
            f"\n  УСТАРЕЛА: держатель не подаёт признаков жизни дольше {settings.MAILER_SENDER_LOCK_GRACE} с. "
            "Следующий проход отправителя перехватит её; снять сейчас: manage.py mailer_unlock"
        )
    return text


def _throttles_text(report):
    if report.user is None:
        return "Троттлинг менеджера: укажите --user ИМЯ"
    lines = [f"Троттлинг пользователя {report.user.get_username()} (id {report.user.pk}), в этом часе:"]
    for item in report.throttles:
        title, entry = THROTTLE_TITLES[item.action], item.entry
        if entry.error:
            lines.append(f"  {title}: нет данных — кеш недоступен")
            continue
        reset = f"; {_ttl(entry)}" if entry.value is not None else ""
        lines.append(f"  {title}: {entry.value or 0} из {item.limit} (ключ {entry.key}{reset})")
    return "\n".join(lines)


def _ttl(entry):
    if not entry.ttl_known:
        return "TTL недоступен без Redis (встроенный режим)"
    if entry.ttl is None:
        return "TTL не задан"
    return f"осталось {entry.ttl} с"


def _moment(moment: datetime) -> str:
    return f"{policy.local_time(moment):%d.%m.%Y %H:%M:%S}"
