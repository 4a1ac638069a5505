"""Operations without redis-cli: mailer_status, mailer_send_now, mailer_sync_quota
(checklist 2, 3, 9.2, 15.2 and the diagnostics section, read through one command)."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from mailer import services
from mailer.engine import limits
from mailer.models import Campaign, CampaignQueue, CampaignRecipient, GlobalMailAccount, SendLog, SmtpBzQuota
from mailer.pii import EMAIL_PATTERN
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

NOW = msk(2026, 11, 30, 10, 0)


def run(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def database_cache(settings):
    """The embedded mode's cache: Django's database cache, no Redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "crm_cache",
            "KEY_FUNCTION": "config.cache.raw_key",
        }
    }
    call_command("createcachetable", verbosity=0)


def _queue(campaign, status, *, queued_at, **fields):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.PAUSED if status == CampaignQueue.Status.PAUSED else Campaign.Status.SENDING
    )
    return CampaignQueue.objects.create(campaign=campaign, status=status, queued_at=queued_at, **fields)


@pytest.fixture
def busy_mailer(clock, mail_account, owner, other_owner):
    """One campaign sending (2 of 3 sent), one waiting, one deferred by the hourly rate, one
    paused by the circuit breaker; 3 sends counted this hour; the lock held; 2 starts by owner."""
    active = make_campaign(owner, recipients=3, name="Осенняя рассылка")
    _queue(active, CampaignQueue.Status.PROCESSING, queued_at=msk(2026, 11, 30, 9, 0), consecutive_transient_errors=1)
    for recipient in active.recipients.all()[:2]:
        recipient.status = CampaignRecipient.Status.SENT
        recipient.save()
        SendLog.objects.create(campaign=active, recipient=recipient, email=recipient.email, status=SendLog.Status.SENT)
    waiting = make_campaign(owner, recipients=1, name="Зимняя рассылка")
    _queue(waiting, CampaignQueue.Status.PENDING, queued_at=msk(2026, 11, 30, 9, 30))
    deferred = make_campaign(other_owner, recipients=2, name="Новогодняя рассылка")
    _queue(
        deferred,
        CampaignQueue.Status.PENDING,
        queued_at=msk(2026, 11, 30, 9, 10),
        defer_reason=CampaignQueue.DeferReason.RATE_PER_HOUR,
        deferred_until=msk(2026, 11, 30, 11, 0),
    )
    paused = make_campaign(other_owner, recipients=1, name="Весенняя рассылка")
    _queue(
        paused,
        CampaignQueue.Status.PAUSED,
        queued_at=msk(2026, 11, 30, 8, 0),
        defer_reason=CampaignQueue.DeferReason.CIRCUIT_BREAKER,
    )
    for _ in range(3):
        limits.count_hourly_send(now=NOW)
    lock = limits.SenderLock()
    assert lock.acquire()
    for _ in range(2):
        limits.throttle("campaign_start", user=owner, now=NOW)
    return {"active": active, "deferred": deferred, "lock": lock}


# --- mailer_status --------------------------------------------------------------------------


def test_status_shows_the_queue_counters_lock_and_throttles_on_one_screen(busy_mailer, owner):
    text = run("mailer_status", "--user", owner.username)

    active = busy_mailer["active"]
    assert "Состояние рассылок на 30.11.2026 10:00:00 (МСК)" in text
    assert "Отправка: включена" in text
    assert "Рабочее время (09:00–18:00 МСК): сейчас рабочее" in text
    assert f"Активная: «Осенняя рассылка» (кампания #{active.pk}) — отправляется" in text
    assert "прогресс 2/3 (67 %): отправлено 2, ошибок 0, ожидают 1, отписались 0" in text
    assert "временных ошибок SMTP подряд: 1" in text
    assert re.search(r"Ожидают: 1\n    «Зимняя рассылка» .*manager_a\) — 0/1; в очереди с 30\.11\.2026 09:30:00", text)
    assert re.search(
        r"Отложены: 1\n    «Новогодняя рассылка» .*manager_b\) — 0/2; "
        r"Достигнут лимит писем в час\. Продолжится сегодня в 11:00 \(МСК\)\.",
        text,
    )
    assert re.search(r"На паузе: 1\n    «Весенняя рассылка» .*Много ошибок SMTP подряд", text)
    assert "Лимит в час: 3 из 100 (ключ crm:mailer:rate:hour:2026-11-30:10)" in text
    assert "Отправлено сегодня по менеджерам (дневной лимит: без лимита)\n  manager_a: 2" in text
    assert "Квота smtp.bz: ещё не синхронизировалась" in text
    lock = busy_mailer["lock"].token
    assert re.search(
        rf"Блокировка отправителя \(crm:mailer:send_pending_emails:lock\): "
        rf"занята \(значение {lock}\); осталось (59\d|600) с из 600 с",
        text,
    )
    assert re.search(
        rf"запуск кампаний: 2 из 10 \(ключ crm:mailer:throttle:campaign_start:user:{owner.pk}; "
        r"осталось (359\d|3600) с\)",
        text,
    )
    assert f"тестовые письма: 0 из 5 (ключ crm:mailer:throttle:send_test_email:user:{owner.pk})" in text
    assert not EMAIL_PATTERN.search(text)  # recipients' addresses never reach the screen


def test_status_json_has_the_same_figures(busy_mailer, owner):
    report = json.loads(run("mailer_status", "--json", "--user", owner.username))

    assert report["queue"]["active"]["id"] == busy_mailer["active"].pk
    assert report["queue"]["active_status"] == "processing"
    states = {q["campaign"]: q["state"] for q in report["queue"]["queues"]}
    assert states == {
        "Осенняя рассылка": "processing",
        "Зимняя рассылка": "pending",
        "Новогодняя рассылка": "deferred",
        "Весенняя рассылка": "paused",
    }
    [deferred] = [q for q in report["queue"]["queues"] if q["state"] == "deferred"]
    assert (deferred["defer_reason"], deferred["deferred_until"]) == ("rate_per_hour", "2026-11-30T11:00:00+03:00")
    assert report["hourly"] == {
        "used": 3,
        "limit": 100,
        "key": "crm:mailer:rate:hour:2026-11-30:10",
        "used_in_database": None,  # only when the counter cannot be read
    }
    assert report["daily"]["users"] == [{"user_id": owner.pk, "username": "manager_a", "sent": 2}]
    lock = report["sender_lock"]
    assert (lock["value"], lock["ttl_known"], lock["ttl_setting"]) == (busy_mailer["lock"].token, True, 600)
    assert 590 <= lock["ttl"] <= 600
    start, test_email = report["throttles"]["items"]
    assert (start["action"], start["value"], start["limit"]) == ("campaign_start", 2, 10)
    assert (test_email["action"], test_email["value"], test_email["ttl"]) == ("send_test_email", None, None)


def test_status_with_the_database_cache_says_the_ttl_needs_redis(clock, mail_account, owner, database_cache):
    assert limits.SenderLock().acquire()

    text = run("mailer_status")

    assert "занята" in text and "TTL недоступен без Redis (встроенный режим)" in text
    assert "Троттлинг менеджера: укажите --user ИМЯ" in text
    assert json.loads(run("mailer_status", "--json"))["sender_lock"]["ttl_known"] is False


def test_status_still_answers_when_redis_is_down(clock, mail_account, owner, redis_down):
    text = run("mailer_status", "--user", owner.username)

    assert (
        "Лимит в час: кеш недоступен (ключ crm:mailer:rate:hour:2026-11-30:10); по базе в этом часе "
        "отправлено 0 из 100 — по ней отправитель и держит лимит" in text
    )
    assert "Блокировка отправителя (crm:mailer:send_pending_emails:lock): нет данных — кеш недоступен" in text
    assert "запуск кампаний: нет данных — кеш недоступен" in text


def test_status_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="Пользователь «nobody» не найден"):
        run("mailer_status", "--user", "nobody")


# --- mailer_send_now ------------------------------------------------------------------------


def test_send_now_runs_one_sender_pass(clock, inbox, owner):
    campaign = make_campaign(owner, emails=["a@client.example", "b@client.example", "c@client.example"])
    services.campaign_start(campaign=campaign, user=owner)

    text = run("mailer_send_now")

    assert sorted(inbox.addresses()) == ["a@client.example", "b@client.example", "c@client.example"]
    assert "Проход отправителя завершён" in text and "отправлено 3, ошибок 0" in text
    assert "В очереди больше ничего нет." in text
    assert cache.get(limits.SENDER_LOCK_KEY) is None  # released


def test_send_now_reports_a_deferral_with_its_time(clock, inbox, owner):
    clock.move_to(msk(2026, 11, 30, 20, 0))
    campaign = make_campaign(owner, recipients=1)
    services.campaign_start(campaign=campaign, user=owner)

    text = run("mailer_send_now")

    assert inbox.received == []
    assert "отправлено 0, ошибок 0" in text
    assert (
        f"Кампания «{campaign.name}» отложена: Вне рабочего времени (09:00–18:00 МСК). "
        "Продолжится 01.12.2026 в 09:00 (МСК)." in text
    )


def test_send_now_stays_out_while_another_sender_holds_the_lock(clock, inbox, owner):
    services.campaign_start(campaign=make_campaign(owner, recipients=2), user=owner)
    assert limits.SenderLock().acquire()

    with pytest.raises(CommandError, match="Сейчас отправляет другой процесс"):
        run("mailer_send_now")
    assert inbox.received == []


def test_send_now_refuses_while_sending_is_disabled(clock, inbox, owner):
    GlobalMailAccount.objects.filter(pk=1).update(is_enabled=False)

    with pytest.raises(CommandError, match="Отправка выключена"):
        run("mailer_send_now")


# --- mailer_sync_quota ----------------------------------------------------------------------


def test_sync_quota_stores_the_providers_figures(clock, mail_account, smtp_bz):
    GlobalMailAccount.objects.filter(pk=1).update(smtp_bz_api_key="key-123")

    text = run("mailer_sync_quota")

    quota = SmtpBzQuota.current()
    assert (quota.emails_available, quota.emails_limit, quota.last_synced_at) == (14794, 15000, NOW)
    assert text.strip() == "Квота smtp.bz: осталось 14794 из 15000, синхронизирована 30.11.2026 10:00:00 (МСК)."
    assert smtp_bz.requests[-1]["path"] == "/v1/user"
    assert smtp_bz.requests[-1]["headers"]["Authorization"] == "key-123"


def test_sync_quota_failure_is_reported_and_keeps_the_last_figures(clock, mail_account, smtp_bz):
    GlobalMailAccount.objects.filter(pk=1).update(smtp_bz_api_key="key-123")
    run("mailer_sync_quota")
    clock.move_to(NOW + timedelta(hours=1))
    smtp_bz.status = 500

    with pytest.raises(
        CommandError,
        match=r"Квота не синхронизирована: API smtp\.bz ответил 500\. "
        r"Последнее известное значение: 14794\.",
    ):
        run("mailer_sync_quota")
    assert SmtpBzQuota.current().emails_available == 14794


def test_sync_quota_without_an_api_key_says_so(clock, mail_account, smtp_bz):
    with pytest.raises(CommandError, match="API-ключ smtp.bz не задан"):
        run("mailer_sync_quota")
    assert smtp_bz.requests == []


# --- mailer_unlock ---------------------------------------------------------------------------


def test_unlock_in_the_embedded_mode_needs_force_as_the_lock_age_is_unknown(clock, mail_account, database_cache):
    assert limits.SenderLock().acquire()
    with pytest.raises(CommandError, match="Без Redis возраст блокировки неизвестен"):
        run("mailer_unlock")
    assert "Блокировка отправителя снята" in run("mailer_unlock", "--force")
    assert limits.SenderLock().acquire()
