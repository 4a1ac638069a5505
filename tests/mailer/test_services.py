"""Campaign actions and their Russian refusals (checklist 1.2, 5, 6, 12, 16.1, 16.4)."""

import pytest
from django.core.cache import cache

from backoffice.models import Company, Contact
from mailer import services
from mailer.engine import sender
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue, CampaignRecipient, SendLog, Unsubscribe
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db


def start(campaign, user=None):
    return services.campaign_start(campaign=campaign, user=user or campaign.created_by)


# --- start --------------------------------------------------------------------------------


def test_start_creates_the_queue_and_a_paused_campaign_is_resumed_not_started_again(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (queue.status, queue.queued_at) == (CampaignQueue.Status.PENDING, msk(2026, 11, 30, 10, 0))

    services.campaign_pause(campaign=campaign, user=owner)
    assert CampaignQueue.objects.get(campaign=campaign).status == CampaignQueue.Status.PAUSED
    clock.move_to(msk(2026, 11, 30, 10, 5))
    with pytest.raises(MailerError) as refusal:
        start(campaign)
    assert str(refusal.value) == (
        "Кампанию «Осенняя рассылка» в статусе «На паузе» нельзя запустить. Продолжить отправку — кнопка «Возобновить»."
    )
    services.campaign_resume(campaign=campaign, user=owner)

    queue.refresh_from_db()
    campaign.refresh_from_db()
    assert (campaign.status, queue.status) == (Campaign.Status.READY, CampaignQueue.Status.PENDING)
    assert queue.queued_at == msk(2026, 11, 30, 10, 0)  # it keeps its place in line
    assert CampaignQueue.objects.count() == 1


def test_empty_campaign_is_refused(clock, mail_account, owner):
    with pytest.raises(MailerError, match="Нет писем в очереди"):
        start(make_campaign(owner))


def test_campaign_over_the_recipient_limit_is_refused_with_the_numbers(clock, mail_account, owner, settings):
    settings.MAILER_MAX_CAMPAIGN_RECIPIENTS = 5
    campaign = make_campaign(owner, recipients=6)
    with pytest.raises(MailerError) as refusal:
        start(campaign)
    assert "6 получателей" in str(refusal.value) and "лимита 5" in str(refusal.value)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_default_recipient_limit_is_ten_thousand(settings):
    assert settings.MAILER_MAX_CAMPAIGN_RECIPIENTS == 10000


def test_start_refuses_a_disabled_account(clock, mail_account, owner):
    mail_account.is_enabled = False
    mail_account.save()
    with pytest.raises(MailerError, match="Отправка выключена"):
        start(make_campaign(owner, recipients=1))


def test_start_refuses_a_sent_campaign(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=1, status=Campaign.Status.SENT)
    with pytest.raises(MailerError, match="в статусе «Отправлена» нельзя запустить"):
        start(campaign)


def test_start_refuses_a_broken_template(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=1, body_html="<p>{% if %}</p>")
    with pytest.raises(MailerError, match="Ошибка в шаблоне письма"):
        start(campaign)


# --- 5. throttles -------------------------------------------------------------------------------


def test_eleventh_start_in_an_hour_is_refused_until_the_hour_ends(clock, mail_account, owner):
    campaigns = [make_campaign(owner, recipients=1, name=f"K{i}") for i in range(12)]
    for campaign in campaigns[:10]:
        start(campaign)
    with pytest.raises(MailerError) as refusal:
        start(campaigns[10])
    assert "не больше 10 в час" in str(refusal.value)
    assert "через 60 мин., после 11:00" in str(refusal.value)
    assert cache.get(f"crm:mailer:throttle:campaign_start:user:{owner.pk}") == 11

    clock.move_to(msk(2026, 11, 30, 11, 0))
    cache.delete(f"crm:mailer:throttle:campaign_start:user:{owner.pk}")  # Redis expired it
    start(campaigns[10])
    assert Campaign.objects.get(pk=campaigns[10].pk).status == Campaign.Status.READY


def test_throttle_is_per_user(clock, mail_account, owner, other_owner, settings):
    settings.MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR = 1
    start(make_campaign(owner, recipients=1))
    start(make_campaign(other_owner, recipients=1))
    with pytest.raises(MailerError, match="не больше 1 в час"):
        start(make_campaign(owner, recipients=1))


def test_throttle_window_expires_at_the_end_of_the_clock_hour(clock, mail_account, owner):
    import redis
    from django.conf import settings

    clock.move_to(msk(2026, 11, 30, 10, 45))
    start(make_campaign(owner, recipients=1))
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(f"crm:mailer:throttle:campaign_start:user:{owner.pk}")
    assert ttl == 15 * 60


def test_sixth_test_email_in_an_hour_is_refused(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=1)
    for _ in range(5):
        services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    with pytest.raises(MailerError, match="не больше 5 в час"):
        services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    assert len(inbox.received) == 5


def test_redis_down_refuses_start_and_test_email_but_sending_goes_on(clock, inbox, owner, redis_down, caplog):
    queued = make_campaign(owner, recipients=3)
    CampaignQueue.objects.create(campaign=queued, queued_at=msk(2026, 11, 30, 9, 0))
    Campaign.objects.filter(pk=queued.pk).update(status=Campaign.Status.READY)

    with pytest.raises(MailerError, match="Сервис временно недоступен"):
        start(make_campaign(owner, recipients=1))
    with pytest.raises(MailerError, match="Сервис временно недоступен"):
        services.send_test_email(campaign=queued, user=owner, to="me@crm.example")

    with caplog.at_level("ERROR", logger="mailer"):
        sender.run_sender_pass()

    assert len(inbox.received) == 3  # counted in the database instead
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("Hourly rate counter unavailable, counting this hour's sends in the database") == 1
    assert "Sender lock unavailable, sending without it" in messages


# --- 12. test e-mail ------------------------------------------------------------------------------


def test_test_email_arrives_is_logged_and_counts_in_the_hourly_rate(clock, inbox, owner):
    campaign = make_campaign(owner, emails=["client@example.com"], subject="Привет, {{ name }}")
    log = services.send_test_email(campaign=campaign, user=owner, to=" Me@CRM.example ")

    [received] = inbox.received
    assert received.to == "me@crm.example"
    assert received.message["Subject"].strip() == "[Тест] Привет, Клиент 0"
    assert (log.kind, log.status, log.email) == (SendLog.Kind.TEST, SendLog.Status.SENT, "me@crm.example")
    assert log.smtp_message_id == received.message["Message-ID"]
    assert cache.get("crm:mailer:rate:hour:2026-11-30:10") == 1
    assert campaign.recipients.get().status == "pending"  # a test changes no recipient


def test_test_email_refuses_an_invalid_address(clock, inbox, owner):
    with pytest.raises(MailerError, match="некорректный адрес"):
        services.send_test_email(campaign=make_campaign(owner), user=owner, to="not an address")
    assert inbox.received == []


def test_test_email_refused_when_the_hour_is_used_up(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 1
    campaign = make_campaign(owner)
    services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    with pytest.raises(MailerError, match="Достигнут лимит 1 писем в час.*после 11:00"):
        services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    assert cache.get("crm:mailer:rate:hour:2026-11-30:10") == 1


def test_failed_test_email_is_logged_and_reported(clock, inbox, owner):
    inbox.refuse["@nowhere.example"] = "550 5.1.1 User unknown"
    campaign = make_campaign(owner)
    with pytest.raises(MailerError, match="Тестовое письмо не отправлено: 550"):
        services.send_test_email(campaign=campaign, user=owner, to="x@nowhere.example")
    assert SendLog.objects.get(kind="test").status == SendLog.Status.FAILED


# --- pause, resume, retry ---------------------------------------------------------------------------


def test_resume_a_deferred_campaign_makes_it_due_now(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=1)
    start(campaign)
    CampaignQueue.objects.filter(campaign=campaign).update(
        defer_reason="rate_per_hour", deferred_until=msk(2026, 11, 30, 11, 0)
    )
    services.campaign_resume(campaign=campaign, user=owner)
    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (queue.defer_reason, queue.deferred_until, queue.status) == ("", None, "pending")


def test_resume_refuses_a_campaign_that_is_neither_paused_nor_deferred(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=1)
    with pytest.raises(MailerError, match="возобновлять нечего"):
        services.campaign_resume(campaign=campaign, user=owner)


def test_pause_refuses_a_draft(clock, mail_account, owner):
    with pytest.raises(MailerError, match="нельзя поставить на паузу"):
        services.campaign_pause(campaign=make_campaign(owner, recipients=1), user=owner)


def test_retry_failed_requeues_transient_failures_only(clock, inbox, owner):
    inbox.refuse = {"t@example.com": "451 4.7.1 Try later", "p@example.com": "550 5.2.1 Mailbox disabled"}
    campaign = make_campaign(owner, emails=["t@example.com", "p@example.com", "ok@example.com"])
    start(campaign)
    sender.run_sender_pass()
    inbox.refuse = {}

    assert services.campaign_retry_failed(campaign=campaign, user=owner) == 1
    assert CampaignQueue.objects.get(campaign=campaign).status == CampaignQueue.Status.PENDING
    sender.run_sender_pass()

    assert campaign.recipients.get(email="t@example.com").status == "sent"
    assert campaign.recipients.get(email="p@example.com").status == "failed"
    with pytest.raises(MailerError, match="1 с постоянными ошибками"):
        services.campaign_retry_failed(campaign=campaign, user=owner)


# --- adding recipients ---------------------------------------------------------------------------------


def test_add_recipients_normalises_deduplicates_and_reports(db, owner):
    Unsubscribe.objects.create(email="left@example.com", source="link")
    campaign = make_campaign(owner, emails=["old@example.com"])
    result = services.add_recipients(
        campaign=campaign,
        recipients=[
            services.NewRecipient(email=" Ivan@Example.RU "),
            services.NewRecipient(email="ivan@example.ru"),
            services.NewRecipient(email="OLD@example.com"),
            services.NewRecipient(email="Left@Example.com"),
            services.NewRecipient(email="bad@@example"),
        ],
    )
    assert (result.created, result.duplicates, result.unsubscribed) == (2, 2, 1)
    assert result.invalid == ["bad@@example"]
    assert dict(campaign.recipients.values_list("email", "status")) == {
        "old@example.com": "pending",
        "ivan@example.ru": "pending",
        "left@example.com": "unsubscribed",
    }
    assert "некорректные адреса не добавлены: bad@@example" in result.summary()


def test_recipients_from_companies_take_company_and_contact_addresses(db, owner):
    acme = Company.objects.create(name="ООО Акме", email="info@acme.ru")
    Contact.objects.create(company=acme, full_name="Пётр Сидоров", email="petr@acme.ru")
    Contact.objects.create(company=acme, full_name="Дубль", email="INFO@acme.ru")
    Contact.objects.create(company=acme, full_name="Без почты", email="")
    campaign = make_campaign(owner)

    result = services.recipients_from_companies(campaign=campaign, companies=Company.objects.all())

    assert (result.created, result.duplicates) == (2, 1)
    petr = campaign.recipients.get(email="petr@acme.ru")
    assert (petr.name, petr.company, petr.contact.full_name) == ("Пётр Сидоров", acme, "Пётр Сидоров")


def test_recipients_cannot_be_added_to_a_running_campaign(clock, mail_account, owner):
    campaign = make_campaign(owner, recipients=1)
    start(campaign)
    with pytest.raises(MailerError, match="нельзя дополнить"):
        services.add_recipients(campaign=campaign, recipients=[services.NewRecipient(email="x@example.com")])
    assert CampaignRecipient.objects.count() == 1
