"""The operator's one-screen report behind `manage.py mailer_status`: gathered as a dict
(what `--json` prints), then rendered as Russian text.

It shows what the checklist reads with SQL and redis-cli: the queue, the hourly counter, the
daily usage, the quota, the sender lock and a user's throttles. No recipient address appears.
"""

from datetime import datetime

from django.conf import settings

from mailer import selectors
from mailer.engine import limits, policy
from mailer.models import CampaignQueue, GlobalMailAccount

Queue = CampaignQueue.Status
THROTTLE_TITLES = {"campaign_start": "запуск кампаний", "send_test_email": "тестовые письма"}


# --- gathering -------------------------------------------------------------------------------


def build(*, now, user=None):
    snapshot = selectors.snapshot(now=now)
    account = GlobalMailAccount.load()
    return {
        "now": selectors.local_iso(now),
        "account": {"enabled": account.is_enabled, "host": account.smtp_host, "port": account.smtp_port},
        "working_hours": {
            "enabled": settings.MAILER_WORKING_HOURS_ENABLED,
            "open": snapshot["working_hours"],
            "start": settings.MAILER_WORKING_HOURS_START,
            "end": settings.MAILER_WORKING_HOURS_END,
        },
        "queue": _queue(snapshot, now=now),
        "hourly": {**snapshot["hourly"], "key": limits.hourly_rate_key(now=now)},
        "daily": {"limit": account.per_user_daily_limit, "users": selectors.daily_usage(now=now)},
        "quota": snapshot["quota"],
        "sender_lock": {
            **selectors.cache_entry(limits.SENDER_LOCK_KEY),
            "ttl_setting": settings.MAILER_SENDER_LOCK_TTL,
        },
        "throttles": _throttles(user),
    }


def _queue(snapshot, *, now):
    queues = [_queue_row(queue, now=now) for queue in selectors.queue_overview()]
    return {
        "active": snapshot["active_campaign"],
        "active_status": snapshot["queue_status"],
        "reason_code": snapshot["reason_code"],
        "reason_text": snapshot["reason_text"],
        "next_run_at": snapshot["next_run_at"],
        "consecutive_transient_errors": snapshot["consecutive_transient_errors"],
        "queued_count": snapshot["queued_count"],
        "next_campaign_at": snapshot["next_campaign_at"],
        "queues": queues,
    }


def _queue_row(queue, *, now):
    deferred = queue.status == Queue.PENDING and queue.deferred_until is not None and queue.deferred_until > now
    return {
        "queue_id": queue.pk,
        "campaign_id": queue.campaign_id,
        "campaign": queue.campaign.name,
        "owner": queue.campaign.created_by.get_username(),
        "status": queue.status,
        "state": "deferred" if deferred else queue.status,
        "defer_reason": queue.defer_reason,
        "pause_reason": queue.pause_reason,
        "reason_text": selectors.reason_text(queue, now=now),
        "deferred_until": selectors.local_iso(queue.deferred_until),
        "queued_at": selectors.local_iso(queue.queued_at),
        "recipients_total": queue.total,
        "recipients_done": queue.done,
        "consecutive_transient_errors": queue.consecutive_transient_errors,
    }


def _throttles(user):
    if user is None:
        return None
    return {"user": user.get_username(), "user_id": user.pk, "items": selectors.throttle_state(user)}


# --- rendering -------------------------------------------------------------------------------


def render(report):
    sections = [
        _header(report),
        _queue_text(report["queue"]),
        _hourly_text(report["hourly"]),
        _daily_text(report["daily"]),
        _quota_text(report["quota"]),
        _lock_text(report["sender_lock"]),
        _throttles_text(report["throttles"]),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(report):
    account = report["account"]
    hours = report["working_hours"]
    window = policy.working_hours_label()
    if not hours["enabled"]:
        hours_line = f"Рабочее время ({window}): проверка выключена (MAILER_WORKING_HOURS_ENABLED=false)"
    else:
        hours_line = f"Рабочее время ({window}): сейчас {'рабочее' if hours['open'] else 'нерабочее — отправка ждёт'}"
    enabled = "включена" if account["enabled"] else "ВЫКЛЮЧЕНА (включите в «Настройках почты»)"
    return "\n".join(
        [
            f"Состояние рассылок на {_moment(report['now'])} ({policy.zone_label()})",
            f"Отправка: {enabled}; SMTP {account['host']}:{account['port']}",
            hours_line,
        ]
    )


def _queue_text(queue):
    lines = ["Очередь"]
    active = queue["active"]
    others = [q for q in queue["queues"] if not active or q["campaign_id"] != active["id"]]
    if active:
        lines += _active_lines(queue, active)
    else:
        lines.append("  Активной кампании нет.")
    for state, title in (("pending", "Ожидают"), ("deferred", "Отложены"), ("paused", "На паузе")):
        group = [q for q in others if q["state"] == state]
        lines.append(f"  {title}: {len(group) or 'нет'}")
        lines += [f"    {_queue_line(q)}" for q in group]
    if queue["next_campaign_at"]:
        lines.append(f"  Следующая кампания начнётся: {_moment(queue['next_campaign_at'])} ({policy.zone_label()})")
    return "\n".join(lines)


def _active_lines(queue, active):
    state = "отправляется" if queue["active_status"] == Queue.PROCESSING else "первая в очереди"
    name = f"«{active['name']}» (кампания #{active['id']})" if active["id"] else active["name"]
    lines = [
        f"  Активная: {name} — {state}",
        f"    прогресс {active['total'] - active['pending']}/{active['total']} ({active['percent']} %): "
        f"отправлено {active['sent']}, ошибок {active['failed']}, ожидают {active['pending']}, "
        f"отписались {active['unsubscribed']}",
        f"    временных ошибок SMTP подряд: {queue['consecutive_transient_errors']}",
    ]
    if queue["reason_text"]:
        lines.append(f"    отложена: {queue['reason_text']}")
    return lines


def _queue_line(q):
    text = (
        f"«{q['campaign']}» (кампания #{q['campaign_id']}, {q['owner']}) — "
        f"{q['recipients_done']}/{q['recipients_total']}"
    )
    if q["reason_text"]:
        return f"{text}; {q['reason_text']}"
    return f"{text}; в очереди с {_moment(q['queued_at'])}"


def _hourly_text(hourly):
    used = "нет данных (кеш недоступен)" if hourly["used"] is None else hourly["used"]
    return f"Лимит в час: {used} из {hourly['limit']} (ключ {hourly['key']})"


def _daily_text(daily):
    limit = daily["limit"] or "без лимита"
    lines = [f"Отправлено сегодня по менеджерам (дневной лимит: {limit})"]
    lines += [f"  {row['username']}: {row['sent']}" for row in daily["users"]] or ["  пока ничего"]
    return "\n".join(lines)


def _quota_text(quota):
    if quota["available"] is None:
        line = "Квота smtp.bz: ещё не синхронизировалась (проверка квоты не ограничивает отправку)"
    else:
        synced = (
            _moment(quota["last_synced_at"]) + f" ({policy.zone_label()})" if quota["last_synced_at"] else "никогда"
        )
        line = f"Квота smtp.bz: осталось {quota['available']} из {quota['limit']}, синхронизирована {synced}"
    if quota["sync_error"]:
        line += f"\n  ошибка последней синхронизации: {quota['sync_error']}"
    return line


def _lock_text(lock):
    head = f"Блокировка отправителя ({lock['key']}): "
    if lock["error"]:
        return head + f"нет данных — кеш недоступен ({lock['error']})"
    if lock["value"] is None:
        return head + "свободна"
    ttl = f"{_ttl(lock)} из {lock['ttl_setting']} с" if lock["ttl"] is not None else _ttl(lock)
    return head + f"занята (значение {lock['value']}); {ttl}"


def _throttles_text(throttles):
    if throttles is None:
        return "Троттлинг менеджера: укажите --user ИМЯ"
    lines = [f"Троттлинг пользователя {throttles['user']} (id {throttles['user_id']}), в этом часе:"]
    for item in throttles["items"]:
        if item["error"]:
            lines.append(f"  {THROTTLE_TITLES[item['action']]}: нет данных — кеш недоступен")
            continue
        used = item["value"] or 0
        reset = f"; {_ttl(item)}" if item["value"] is not None else ""
        lines.append(f"  {THROTTLE_TITLES[item['action']]}: {used} из {item['limit']} (ключ {item['key']}{reset})")
    return "\n".join(lines)


def _ttl(entry):
    if not entry["ttl_known"]:
        return "TTL недоступен без Redis (встроенный режим)"
    if entry["ttl"] is None:
        return "TTL не задан"
    return f"осталось {entry['ttl']} с"


def _moment(iso):
    return f"{policy.local_time(datetime.fromisoformat(iso)):%d.%m.%Y %H:%M:%S}"
