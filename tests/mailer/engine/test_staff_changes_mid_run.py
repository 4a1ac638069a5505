"""What staff change while a run is sending takes effect within a few messages: pause, the
account switched off, a paused campaign deleted (issue 10, findings 7 and 10).

Staff act from another thread and connection, as the admin would, when the SMTP server
receives a chosen message; the tests are transactional so both sides see each other's rows.
"""

import threading

import pytest
from django.db import connection

from mailer import services
from mailer.engine import sender
from mailer.engine.sender import CHECK_EVERY
from mailer.models import Campaign, CampaignQueue, GlobalMailAccount, SendLog
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def when_received(inbox, nth, action):
    """Runs `action` in another thread (its own connection) when the nth message arrives."""

    def hook(received):
        if len(inbox.received) == nth:
            worker = threading.Thread(target=lambda: (action(), connection.close()))
            worker.start()
            worker.join()

    inbox.on_message = hook


def test_pause_stops_the_run_within_a_few_messages(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 1000
    campaign = make_campaign(owner, recipients=60)
    services.campaign_start(campaign=campaign, user=owner)
    when_received(inbox, 3, lambda: services.campaign_pause(campaign=campaign, user=owner))

    sender.run_sender_pass()

    sent = len(inbox.received)
    print(f"\npause after message 3: {sent} sent in all, {sent - 3} after the pause (check every {CHECK_EVERY})")
    assert 3 <= sent <= 3 + CHECK_EVERY
    assert CampaignQueue.objects.get(campaign=campaign).status == CampaignQueue.Status.PAUSED
    assert campaign.recipients.filter(status="pending").count() == 60 - sent


def test_switching_the_account_off_stops_the_run_within_a_few_messages(clock, inbox, owner, mail_account, settings):
    settings.MAILER_RATE_PER_HOUR = 1000
    campaign = make_campaign(owner, recipients=60)
    services.campaign_start(campaign=campaign, user=owner)
    when_received(inbox, 3, lambda: GlobalMailAccount.objects.filter(pk=1).update(is_enabled=False))

    sender.run_sender_pass()

    sent = len(inbox.received)
    print(f"\naccount off after message 3: {sent - 3} more sent")
    assert 3 <= sent <= 3 + CHECK_EVERY
    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (queue.status, queue.defer_reason, queue.deferred_until) == ("pending", "", None)  # back in line

    inbox.on_message = None
    GlobalMailAccount.objects.filter(pk=1).update(is_enabled=True)
    sender.run_sender_pass()
    assert len(inbox.received) == 60
    assert len(set(inbox.addresses())) == 60


def test_deleting_a_paused_campaign_while_its_message_is_on_the_way(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 1000
    campaign = make_campaign(owner, recipients=30)
    services.campaign_start(campaign=campaign, user=owner)

    def pause_and_delete():
        services.campaign_pause(campaign=campaign, user=owner)
        Campaign.objects.get(pk=campaign.pk).delete()  # what the admin's delete does once paused

    when_received(inbox, 2, pause_and_delete)

    sender.run_sender_pass()  # no IntegrityError

    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    sent = len(inbox.received)
    assert 2 <= sent <= 2 + CHECK_EVERY
    # Every outcome is kept, the one recorded after the deletion included, pointing at nothing.
    assert SendLog.objects.filter(campaign=None, recipient=None, status="sent").count() == sent
