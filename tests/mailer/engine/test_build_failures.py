"""A message that cannot be built pauses only its own campaign, with a reason and a
notification; start refuses a campaign whose attachment files are gone (issue 10, finding 1)."""

import os

import pytest
from django.core.files.base import ContentFile

from backoffice.models import Notification
from mailer import services
from mailer.engine import sender
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def with_attachment(campaign, name="price.pdf"):
    return campaign.attachments.create(file=ContentFile(b"%PDF-1.4 price list", name=name))


def test_a_missing_attachment_pauses_its_campaign_and_the_next_one_is_sent(clock, inbox, owner, media):
    broken = make_campaign(owner, recipients=3, name="С прайсом")
    attachment = with_attachment(broken)
    fine = make_campaign(owner, recipients=2, name="Без вложений")
    services.campaign_start(campaign=broken, user=owner)
    services.campaign_start(campaign=fine, user=owner)
    os.remove(attachment.file.path)  # gone from storage after the start

    sender.run_sender_pass()  # no exception: the pass goes on

    queue = CampaignQueue.objects.get(campaign=broken)
    broken.refresh_from_db()
    assert broken.status == Campaign.Status.PAUSED
    assert (queue.pause_reason, queue.pause_detail) == ("build_error", "Файла вложения «price.pdf» нет в хранилище.")
    assert set(broken.recipients.values_list("status", flat=True)) == {"pending"}
    note = Notification.objects.get(user=owner, kind="build_error")
    assert note.title == "Кампания «С прайсом» остановлена"
    assert note.text == (
        "Файла вложения «price.pdf» нет в хранилище. "
        "Загрузите файл вложения заново или удалите его, затем возобновите кампанию."
    )
    assert sorted(inbox.addresses()) == sorted(fine.recipients.values_list("email", flat=True))

    with pytest.raises(MailerError, match="Файла вложения «price.pdf» нет в хранилище"):
        services.campaign_resume(campaign=broken, user=owner)  # refused until fixed
    attachment.delete()
    services.campaign_resume(campaign=broken, user=owner)
    sender.run_sender_pass()
    assert set(broken.recipients.values_list("status", flat=True)) == {"sent"}


def test_an_unreadable_attachment_pauses_its_campaign(clock, inbox, owner, media):
    campaign = make_campaign(owner, recipients=1)
    attachment = with_attachment(campaign)
    services.campaign_start(campaign=campaign, user=owner)
    path = attachment.file.path
    os.remove(path)
    os.mkdir(path)  # something there, but not a file that reads

    sender.run_sender_pass()

    queue = CampaignQueue.objects.get(campaign=campaign)
    assert queue.pause_reason == "build_error"
    assert queue.pause_detail.startswith("Файл вложения «price.pdf» не прочитать (")
    assert inbox.received == []


def test_start_refuses_a_campaign_whose_attachment_is_missing(clock, inbox, owner, media):
    campaign = make_campaign(owner, recipients=1)
    os.remove(with_attachment(campaign).file.path)

    with pytest.raises(MailerError) as refusal:
        services.campaign_start(campaign=campaign, user=owner)

    assert str(refusal.value) == "Файла вложения «price.pdf» нет в хранилище."
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_message_that_breaks_while_it_is_serialised_pauses_without_failing_anyone(clock, inbox, owner, mail_account):
    mail_account.reply_to = "sales@example.ru\nBcc: spy@example.org"  # a header Django refuses to write
    mail_account.save()
    campaign = make_campaign(owner, recipients=3)
    services.campaign_start(campaign=campaign, user=owner)

    sender.run_sender_pass()  # no exception

    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (queue.status, queue.pause_reason) == ("paused", "build_error")
    assert queue.pause_detail.startswith("Письмо не собрать: BadHeaderError")
    assert set(campaign.recipients.values_list("status", flat=True)) == {"pending"}
    assert inbox.received == []
