"""The sender blames the right party against a real SMTP server (issue 10, findings 2, 5, 6):
sender and message refusals pause the campaign and fail nobody, a 421 costs one recipient,
an outcome lost after DATA is `unknown` and resent only when staff ask."""

import pytest

from backoffice.models import Notification
from mailer import services
from mailer.engine import sender
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue, SendLog, Unsubscribe
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


def start(campaign):
    services.campaign_start(campaign=campaign, user=campaign.created_by)


def by_status(campaign):
    counts = {}
    for status in campaign.recipients.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def queue_of(campaign):
    return CampaignQueue.objects.get(campaign=campaign)


def test_552_at_data_pauses_the_campaign_fails_nobody_and_lets_the_next_campaign_go(clock, inbox, owner):
    inbox.data_reply["@big.example"] = "552 5.3.4 Message size exceeds fixed limit"
    heavy = make_campaign(owner, emails=[f"c{i}@big.example" for i in range(5)], name="Тяжёлая")
    light = make_campaign(owner, recipients=2, name="Лёгкая")
    start(heavy)
    start(light)
    sender.run_sender_pass()

    heavy.refresh_from_db()
    queue = queue_of(heavy)
    assert heavy.status == Campaign.Status.PAUSED
    assert by_status(heavy) == {"pending": 5}  # 0 failed for good, all still in line
    assert (queue.pause_reason, queue.defer_reason) == ("message_refused", "")
    assert queue.pause_detail == (
        "SMTP-сервер отклонил само письмо после передачи (DATA): 552 5.3.4 Message size exceeds fixed limit"
    )
    note = Notification.objects.get(user=owner, kind="message_refused")
    assert note.title == "Кампания «Тяжёлая» остановлена"
    assert "Получатели не помечены ошибкой" in note.text
    assert not Unsubscribe.objects.exists()
    assert by_status(light) == {"sent": 2}  # the same pass went on with the next campaign

    inbox.data_reply.clear()
    services.campaign_resume(campaign=heavy, user=owner)
    sender.run_sender_pass()
    assert by_status(heavy) == {"sent": 5}


def test_sender_domain_refused_at_rcpt_is_not_a_bounce(clock, inbox, owner, caplog):
    inbox.refuse[""] = "550 5.1.8 <crm@example.ru>: Sender address rejected: Domain not found"
    campaign = make_campaign(owner, recipients=4)
    other = make_campaign(owner, recipients=1, name="Вторая")
    start(campaign)
    start(other)
    with caplog.at_level("ERROR", logger="mailer"):
        sender.run_sender_pass()

    queue = queue_of(campaign)
    assert queue.status == CampaignQueue.Status.PAUSED
    assert queue.pause_reason == "sender_refused"
    assert "на адресе получателя (RCPT TO): 550 5.1.8" in queue.pause_detail
    first = campaign.recipients.order_by("id").first().email
    assert queue.pause_detail.endswith(f"Получатель: {first} — если дело в этом адресе, удалите его из кампании")
    assert by_status(campaign) == {"pending": 4}
    assert not Unsubscribe.objects.exists()  # nobody suppressed as a bounce
    assert by_status(other) == {"pending": 1}  # the account is refused: the pass stops
    assert Notification.objects.filter(user=owner, kind="sender_refused").count() == 1
    [paused] = [r for r in caplog.records if r.getMessage() == "Campaign paused by the sender"]
    assert first not in paused.error and "example.com" in paused.error  # masked in the log


def test_sender_refused_at_mail_from_pauses_with_the_reason(clock, inbox, owner):
    inbox.mail_from_reply = "553 5.7.1 <crm@example.ru>: Sender address not owned by user"
    campaign = make_campaign(owner, recipients=3)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert (queue.status, queue.pause_reason) == ("paused", "sender_refused")
    assert queue.pause_detail.startswith("SMTP-сервер отклонил отправителя или учётную запись на адресе отправителя")
    assert by_status(campaign) == {"pending": 3}
    assert inbox.received == []


def test_unknown_user_is_still_the_recipients_own_failure(clock, inbox, owner):
    inbox.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
    campaign = make_campaign(owner, emails=["gone@example.com", "ok@example.com"])
    start(campaign)
    sender.run_sender_pass()

    assert by_status(campaign) == {"failed": 1, "sent": 1}
    assert campaign.recipients.get(email="gone@example.com").error_kind == "permanent"
    assert Unsubscribe.objects.get().source == Unsubscribe.Source.BOUNCE
    assert queue_of(campaign).status == CampaignQueue.Status.COMPLETED


def test_a_421_costs_one_recipient_and_the_next_goes_over_a_new_connection(clock, inbox, owner):
    inbox.refuse["busy@example.com"] = "421 4.7.0 Too many messages, closing connection"
    emails = ["a@example.com", "busy@example.com", "b@example.com", "c@example.com"]
    campaign = make_campaign(owner, emails=emails)
    start(campaign)
    sender.run_sender_pass()

    busy = campaign.recipients.get(email="busy@example.com")
    assert (busy.status, busy.error_kind) == ("failed", "transient")
    assert by_status(campaign) == {"failed": 1, "sent": 3}
    assert inbox.addresses() == ["a@example.com", "b@example.com", "c@example.com"]
    peers = [r.peer for r in inbox.received]
    assert peers[0] != peers[1] == peers[2]  # reconnected once, then reused
    assert queue_of(campaign).consecutive_transient_errors == 0


def test_the_breaker_trips_after_ten_real_421s_each_reaching_the_server(clock, inbox, owner):
    inbox.refuse["@busy.example"] = "421 4.7.0 Too many messages, closing connection"
    campaign = make_campaign(owner, emails=[f"c{i}@busy.example" for i in range(12)])
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert (queue.status, queue.defer_reason, queue.consecutive_transient_errors) == ("paused", "circuit_breaker", 10)
    assert by_status(campaign) == {"failed": 10, "pending": 2}
    assert len(inbox.rcpt_seen) == 10  # every failure was the server's answer, none a dead socket
    assert all(r.last_error.startswith("421") for r in campaign.recipients.filter(status="failed"))


def test_a_connection_the_server_dropped_while_idle_is_reopened_for_the_same_message(clock, inbox, owner):
    inbox.close_after.add("first@example.com")
    campaign = make_campaign(owner, emails=["first@example.com", "second@example.com", "third@example.com"])
    start(campaign)
    sender.run_sender_pass()

    assert by_status(campaign) == {"sent": 3}
    assert SendLog.objects.filter(status="failed").count() == 0


def test_a_drop_after_data_is_unknown_and_resent_only_when_staff_tick_unknowns(clock, inbox, owner):
    inbox.drop_after_data.add("lost@example.com")
    campaign = make_campaign(owner, emails=["lost@example.com", "ok@example.com"])
    start(campaign)
    sender.run_sender_pass()

    lost = campaign.recipients.get(email="lost@example.com")
    assert lost.status == "unknown"
    assert lost.get_status_display() == "Неизвестно, дошло ли"
    assert lost.last_error.startswith("Соединение оборвалось после передачи письма: неизвестно, дошло ли оно")
    assert "включая неизвестные" in lost.last_error
    assert sorted(inbox.addresses()) == ["lost@example.com", "ok@example.com"]  # it did arrive
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING  # finished, not «sent»: one outcome unknown

    with pytest.raises(MailerError, match="Нет писем для повтора"):
        services.campaign_retry_failed(campaign=campaign, user=owner)
    sender.run_sender_pass()
    assert inbox.addresses().count("lost@example.com") == 1  # not resent by itself

    inbox.drop_after_data.clear()
    assert services.campaign_retry_failed(campaign=campaign, user=owner, include_unknown=True) == 1
    sender.run_sender_pass()
    assert inbox.addresses().count("lost@example.com") == 2  # staff asked for it
    assert by_status(campaign) == {"sent": 2}


def test_a_timeout_after_data_is_unknown(clock, inbox, owner, settings):
    settings.MAILER_SMTP_TIMEOUT = 0.3
    inbox.hang_after_data[""] = 1
    campaign = make_campaign(owner, recipients=1)
    start(campaign)
    sender.run_sender_pass()

    recipient = campaign.recipients.get()
    assert recipient.status == "unknown"
    assert "timed out" in recipient.last_error


@pytest.mark.parametrize(
    ("setting", "stage"),
    [({"use_tls": True}, "при включении шифрования (STARTTLS)"), ({"smtp_username": "crm"}, "при входе (AUTH)")],
    ids=["starttls", "auth"],
)
def test_a_setting_the_server_does_not_support_pauses_before_anyone_fails(
    clock, inbox, owner, mail_account, setting, stage
):
    # The test server offers neither STARTTLS nor AUTH (without TLS).
    for field, value in {**setting, "smtp_password": "secret"}.items():
        setattr(mail_account, field, value)
    mail_account.save()
    campaign = make_campaign(owner, recipients=3)
    start(campaign)
    sender.run_sender_pass()

    queue = queue_of(campaign)
    assert (queue.status, queue.pause_reason) == ("paused", "sender_refused")
    assert queue.pause_detail.startswith(f"SMTP-сервер отклонил отправителя или учётную запись {stage}: ")
    assert by_status(campaign) == {"pending": 3}
    assert queue.consecutive_transient_errors == 0
