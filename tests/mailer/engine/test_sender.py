"""The pipeline against PostgreSQL, Redis and a real SMTP server (checklist 1.2, 2–4, 7, 8.1,
11, 13, 16, 17)."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from backoffice.models import Notification
from mailer import services
from mailer.engine import sender
from mailer.models import (
    Campaign,
    CampaignQueue,
    CampaignRecipient,
    SendLog,
    SmtpBzQuota,
    Unsubscribe,
)
from tests.conftest import free_port, make_campaign, msk

pytestmark = pytest.mark.django_db

Reason = CampaignQueue.DeferReason


def start(campaign):
    services.campaign_start(campaign=campaign, user=campaign.created_by)


def statuses(campaign):
    return sorted(campaign.recipients.values_list("status", flat=True))


def queue_of(campaign):
    return CampaignQueue.objects.get(campaign=campaign)


# --- 1.2 statuses ----------------------------------------------------------------------------


def test_draft_campaign_is_not_sent(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=2)
    sender.run_sender_pass()
    assert inbox.received == []
    assert not CampaignQueue.objects.exists()
    assert set(campaign.recipients.values_list("status", flat=True)) == {"pending"}


def test_start_queues_then_sender_sends_and_completes(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=3)
    start(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.READY
    assert queue_of(campaign).status == CampaignQueue.Status.PENDING

    sender.run_sender_pass()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert queue_of(campaign).status == CampaignQueue.Status.COMPLETED
    assert sorted(inbox.addresses()) == sorted(campaign.recipients.values_list("email", flat=True))
    assert SendLog.objects.filter(campaign=campaign, status="sent").count() == 3


def test_message_is_personalised_multipart_with_unsubscribe_headers(clock, inbox, owner):
    campaign = make_campaign(
        owner,
        emails=["ivan@example.com"],
        subject="Предложение для {{ company }}",
        body_html="<p>Здравствуйте, {{ name }}! Город: {{ city }}</p>",
    )
    campaign.recipients.update(name="Иван", variables={"city": "Казань", "company": "ООО Ромашка"})
    start(campaign)
    sender.run_sender_pass()

    message = inbox.received[0].message
    recipient = campaign.recipients.get()
    assert message["Subject"].strip() == "Предложение для ООО Ромашка"
    assert message["Message-ID"] == recipient.smtp_message_id
    assert message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "sales@example.ru"
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Здравствуйте, Иван! Город: Казань" in html
    assert "Здравствуйте, Иван! Город: Казань" in text
    assert "Отписаться от рассылки" in html  # footer added: the template had no link


def test_attachments_travel_with_every_message(clock, inbox, owner, settings, tmp_path):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path
    campaign = make_campaign(owner, recipients=2)
    campaign.attachments.create(file=ContentFile(b"%PDF-1.4 price list", name="price.pdf"))
    start(campaign)
    sender.run_sender_pass()

    for received in inbox.received:
        [attachment] = list(received.message.iter_attachments())
        assert attachment.get_filename() == "price.pdf"
        assert attachment.get_content() == b"%PDF-1.4 price list"


# --- 2. the hourly rate --------------------------------------------------------------------


def test_hourly_rate_defers_the_101st_until_next_hour_then_resumes(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=101)
    start(campaign)
    sender.run_sender_pass()

    assert len(inbox.received) == 100
    queue = queue_of(campaign)
    assert (queue.defer_reason, queue.deferred_until) == (Reason.RATE_PER_HOUR, msk(2026, 11, 30, 11, 0))
    assert queue.status == CampaignQueue.Status.PENDING
    assert cache.get("crm:mailer:rate:hour:2026-11-30:10") == 100
    assert campaign.recipients.filter(status="pending").count() == 1

    sender.run_sender_pass()  # still 10:00: nothing more, and no second notification
    assert len(inbox.received) == 100
    [note] = Notification.objects.filter(user=owner, kind="campaign_deferred")
    assert note.title == "Кампания «Осенняя рассылка» отложена"
    assert note.text == "Достигнут лимит писем в час. Отправка продолжится 30.11.2026 в 11:00 (МСК)."
    assert note.link == f"/admin/mailer/campaign/{campaign.pk}/change/"

    clock.move_to(msk(2026, 11, 30, 11, 0))
    sender.run_sender_pass()

    assert len(inbox.received) == 101
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert cache.get("crm:mailer:rate:hour:2026-11-30:11") == 1


def test_test_sends_count_in_the_hourly_rate(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 3
    campaign = make_campaign(owner, recipients=3)
    services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    start(campaign)
    sender.run_sender_pass()

    assert len(inbox.received) == 3  # one test + two campaign messages
    assert queue_of(campaign).defer_reason == Reason.RATE_PER_HOUR


# --- 3. the provider quota -----------------------------------------------------------------


def test_exhausted_quota_defers_until_the_next_sync_and_resumes_after_it(clock, inbox, owner):
    SmtpBzQuota.objects.create(emails_limit=15000, emails_available=0)
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert (queue.defer_reason, queue.deferred_until) == (Reason.QUOTA_EXHAUSTED, msk(2026, 11, 30, 11, 0))
    assert inbox.received == []

    SmtpBzQuota.objects.update(emails_available=1000)
    from mailer.tasks import sync_smtp_bz_quota

    sync_smtp_bz_quota.call_local()
    sender.run_sender_pass()

    assert len(inbox.received) == 2
    assert SmtpBzQuota.current().emails_available == 998


def test_quota_running_out_mid_campaign_defers_the_rest(clock, inbox, owner):
    SmtpBzQuota.objects.create(emails_limit=15000, emails_available=2)
    campaign = make_campaign(owner, recipients=5)
    start(campaign)
    sender.run_sender_pass()

    assert len(inbox.received) == 2
    assert queue_of(campaign).defer_reason == Reason.QUOTA_EXHAUSTED
    assert SmtpBzQuota.current().emails_available == 0


# --- 4. working hours ------------------------------------------------------------------------


def test_outside_working_hours_defers_until_nine_next_day(clock, inbox, owner):
    clock.move_to(msk(2026, 11, 30, 20, 0))
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert (queue.defer_reason, queue.deferred_until) == (Reason.OUTSIDE_HOURS, msk(2026, 12, 1, 9, 0))
    assert inbox.received == []

    clock.move_to(msk(2026, 12, 1, 8, 59))
    sender.run_sender_pass()
    assert inbox.received == []

    clock.move_to(msk(2026, 12, 1, 9, 0))
    sender.run_sender_pass()
    assert len(inbox.received) == 2


def test_crossing_six_pm_mid_batch_defers_the_rest(clock, inbox, owner):
    clock.move_to(msk(2026, 11, 30, 17, 59, 59))
    campaign = make_campaign(owner, recipients=5)
    start(campaign)

    def six_pm_after_third(received):
        if len(inbox.received) == 3:
            clock.move_to(msk(2026, 11, 30, 18, 0))

    inbox.on_message = six_pm_after_third
    sender.run_sender_pass()

    assert len(inbox.received) == 3
    queue = queue_of(campaign)
    assert (queue.defer_reason, queue.deferred_until) == (Reason.OUTSIDE_HOURS, msk(2026, 12, 1, 9, 0))
    assert campaign.recipients.filter(status="pending").count() == 2

    clock.move_to(msk(2026, 12, 1, 9, 0))
    sender.run_sender_pass()
    assert len(inbox.received) == 5


# --- 7. circuit breaker ----------------------------------------------------------------------


def test_circuit_breaker_pauses_after_ten_transient_errors_and_success_resets_it(clock, inbox, owner, mail_account):
    working_port = mail_account.smtp_port
    mail_account.smtp_port = free_port()  # nothing listens there: connection refused
    mail_account.save()
    campaign = make_campaign(owner, recipients=12)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    campaign.refresh_from_db()
    assert queue.consecutive_transient_errors == 10
    assert (queue.status, queue.defer_reason) == (CampaignQueue.Status.PAUSED, Reason.CIRCUIT_BREAKER)
    assert campaign.status == Campaign.Status.PAUSED
    failed = campaign.recipients.filter(status="failed")
    assert failed.count() == 10
    assert set(failed.values_list("error_kind", flat=True)) == {"transient"}
    assert Notification.objects.filter(user=owner, kind="circuit_breaker").count() == 1

    mail_account.smtp_port = working_port
    mail_account.save()
    services.campaign_resume(campaign=campaign, user=owner)
    sender.run_sender_pass()

    assert queue_of(campaign).consecutive_transient_errors == 0
    assert len(inbox.received) == 2


def test_nine_transient_errors_do_not_pause(clock, inbox, owner, mail_account):
    inbox.refuse["@busy.example"] = "451 4.3.0 Try again later"
    emails = [f"c{i}@busy.example" for i in range(9)] + ["ok@example.com"]
    campaign = make_campaign(owner, emails=emails)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert queue.status == CampaignQueue.Status.COMPLETED
    assert queue.consecutive_transient_errors == 0  # the last one succeeded
    assert inbox.addresses() == ["ok@example.com"]


# --- 8.1 daily limit ------------------------------------------------------------------------


def test_daily_limit_defers_the_owner_and_lets_others_go(clock, inbox, owner, other_owner, mail_account):
    mail_account.per_user_daily_limit = 3
    mail_account.save()
    first = make_campaign(owner, recipients=5, name="A")
    second = make_campaign(other_owner, emails=["b1@example.com", "b2@example.com"], name="B")
    start(first)
    start(second)
    sender.run_sender_pass()

    queue = queue_of(first)
    assert (queue.defer_reason, queue.deferred_until) == (Reason.DAILY_LIMIT, msk(2026, 12, 1, 9, 0))
    assert first.recipients.filter(status="sent").count() == 3
    assert second.recipients.filter(status="sent").count() == 2

    third = make_campaign(owner, recipients=1, name="C")
    start(third)
    sender.run_sender_pass()
    assert queue_of(third).defer_reason == Reason.DAILY_LIMIT


# --- 11. completion ----------------------------------------------------------------------------


def test_completion_with_an_invalid_address_keeps_status_sending(clock, inbox, owner, caplog):
    emails = ["a@example.com", "b@example.com", "not-an-email", "c@example.com", "d@example.com"]
    campaign = make_campaign(owner, emails=emails)
    start(campaign)
    with caplog.at_level("INFO", logger="mailer"):
        sender.run_sender_pass()

    campaign.refresh_from_db()
    assert statuses(campaign) == ["failed", "sent", "sent", "sent", "sent"]
    assert campaign.recipients.get(status="failed").error_kind == "invalid"
    assert campaign.status == Campaign.Status.SENDING
    assert queue_of(campaign).status == CampaignQueue.Status.COMPLETED
    assert len(inbox.received) == 4
    [finished] = [r for r in caplog.records if r.getMessage() == "Campaign finished"]
    assert finished.finished_with_errors is True
    assert (finished.sent, finished.failed) == (4, 1)
    assert Notification.objects.filter(user=owner, kind="campaign_finished").count() == 1


def test_permanent_rejection_fails_the_recipient_and_suppresses_unknown_users(clock, inbox, owner):
    inbox.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
    campaign = make_campaign(owner, emails=["gone@example.com", "ok@example.com"])
    start(campaign)
    sender.run_sender_pass()

    gone = campaign.recipients.get(email="gone@example.com")
    assert (gone.status, gone.error_kind) == ("failed", "permanent")
    assert gone.last_error.startswith("550")
    assert Unsubscribe.objects.get(email="gone@example.com").source == Unsubscribe.Source.BOUNCE
    assert queue_of(campaign).consecutive_transient_errors == 0


# --- 13. unsubscribed addresses ----------------------------------------------------------------


def test_unsubscribed_address_is_skipped(clock, inbox, owner):
    Unsubscribe.objects.create(email="left@example.com", source="link")
    campaign = make_campaign(owner, emails=["left@example.com", "stay@example.com"])
    start(campaign)
    sender.run_sender_pass()

    assert inbox.addresses() == ["stay@example.com"]
    assert campaign.recipients.get(email="left@example.com").status == "unsubscribed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


# --- 16. edge cases ----------------------------------------------------------------------------


def test_smtp_unreachable_marks_recipients_failed_and_logs(clock, owner, mail_account, caplog):
    mail_account.smtp_host = "127.0.0.1"
    mail_account.smtp_port = free_port()
    mail_account.save()
    campaign = make_campaign(owner, recipients=3)
    start(campaign)
    with caplog.at_level("ERROR", logger="mailer"):
        sender.run_sender_pass()

    assert statuses(campaign) == ["failed"] * 3
    errors = [r for r in caplog.records if r.getMessage() == "Email send failed"]
    assert len(errors) == 3
    assert all(r.error_kind == "transient" and "Connection" in r.error for r in errors)


def test_disabled_account_sends_nothing(clock, inbox, owner, mail_account):
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    mail_account.is_enabled = False
    mail_account.save()
    sender.run_sender_pass()
    assert inbox.received == []


def test_paused_campaign_is_not_sent(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    services.campaign_pause(campaign=campaign, user=owner)
    sender.run_sender_pass()
    assert inbox.received == []


# --- 17. volume and order ----------------------------------------------------------------------


def test_a_thousand_recipients_are_all_sent_once(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 10_000
    campaign = make_campaign(owner, recipients=1000)
    start(campaign)
    sender.run_sender_pass()

    assert len(inbox.received) == 1000
    assert len(set(inbox.addresses())) == 1000
    assert SendLog.objects.filter(status="sent").count() == 1000


def test_campaigns_are_sent_one_after_another(clock, inbox, owner, other_owner):
    campaigns = [make_campaign(owner if i % 2 else other_owner, recipients=3, name=f"K{i}") for i in range(3)]
    for campaign in campaigns:
        start(campaign)
        clock.shift(timedelta(seconds=1))
    sender.run_sender_pass()

    order = [log.campaign_id for log in SendLog.objects.order_by("id")]
    assert order == [c.pk for c in campaigns for _ in range(3)]
    assert all(c.recipients.filter(status="sent").count() == 3 for c in campaigns)


def test_priority_goes_before_fifo(clock, inbox, owner):
    first = make_campaign(owner, recipients=1, name="first")
    urgent = make_campaign(owner, recipients=1, name="urgent")
    start(first)
    start(urgent)
    CampaignQueue.objects.filter(campaign=urgent).update(priority=10)
    sender.run_sender_pass()
    assert [log.campaign_id for log in SendLog.objects.order_by("id")] == [urgent.pk, first.pk]


def test_recipient_claim_is_the_guard_against_a_second_send(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    first = campaign.recipients.order_by("id").first()
    CampaignRecipient.objects.filter(pk=first.pk).update(status="sending")  # claimed elsewhere
    sender.run_sender_pass()
    assert inbox.addresses() == [campaign.recipients.order_by("id").last().email]


@pytest.mark.django_db(transaction=True)
def test_a_recipient_deleted_while_its_message_is_sent_is_logged_without_it(clock, inbox, owner):
    import threading

    from django.db import connection

    campaign = make_campaign(owner, emails=["gone@example.com", "stay@example.com"])
    start(campaign)

    def staff_deletes(received):  # from another connection, as the admin would
        def delete():
            CampaignRecipient.objects.filter(email="gone@example.com").delete()
            connection.close()

        if received.to == "gone@example.com":
            worker = threading.Thread(target=delete)
            worker.start()
            worker.join()

    inbox.on_message = staff_deletes
    sender.run_sender_pass()

    assert sorted(inbox.addresses()) == ["gone@example.com", "stay@example.com"]
    orphan = SendLog.objects.get(email="gone@example.com")
    assert (orphan.status, orphan.recipient_id, orphan.campaign_id) == ("sent", None, campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
