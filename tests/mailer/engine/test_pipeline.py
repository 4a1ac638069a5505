"""One statement per message and a crash window of one message (issue 11, part 3): the success
of a message is written with the claim of the next, SendLog rows follow in batches, and the
hourly limit's database count still sees every sent message."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from mailer import selectors, services, transitions
from mailer.engine import limits, outcomes, sender
from mailer.models import CampaignRecipient, SendLog
from tests.conftest import make_campaign

Recipient = CampaignRecipient.Status


def in_another_connection(read):
    """What another process sees (committed rows only), as a crash would leave them."""
    seen = []

    def worker():
        seen.append(read())
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    return seen[0]


def recipient_statuses():
    return dict(CampaignRecipient.objects.values_list("email", "status"))


@pytest.mark.django_db(transaction=True)
def test_while_a_message_is_on_its_way_only_it_is_claimed_and_the_one_before_is_sent(clock, inbox, owner):
    count = 2 * outcomes.LOG_BATCH + 3  # past two log batches, and a run that ends mid-batch
    campaign = make_campaign(owner, recipients=count)
    services.campaign_start(campaign=campaign, user=owner)
    committed = []  # (the address on its way, every recipient's committed status) at each DATA
    inbox.on_message = lambda received: committed.append((received.to, in_another_connection(recipient_statuses)))

    sender.run_sender_pass()

    assert len(committed) == count
    for position, (address, statuses) in enumerate(committed):
        # A crash now leaves exactly this one recipient with its outcome unknown.
        assert [email for email, status in statuses.items() if status == Recipient.SENDING] == [address]
        assert list(statuses.values()).count(Recipient.SENT) == position
    assert set(recipient_statuses().values()) == {Recipient.SENT}
    logs = SendLog.objects.filter(campaign=campaign, status=SendLog.Status.SENT)
    assert sorted(logs.values_list("recipient__email", flat=True)) == sorted(recipient_statuses())


@pytest.mark.django_db
def test_a_sent_recipient_whose_log_row_waits_still_counts_in_the_hourly_limit(clock, owner):
    campaign = make_campaign(owner, recipients=3)
    first, second, _ = campaign.recipients.order_by("id")
    now = timezone.now()
    for recipient in (first, second):
        transitions.claim_recipient(recipient_id=recipient.pk, message_id="<m@x>", now=now)
    assert limits.database_hourly_count(now=now) == 2  # claimed, on their way

    transitions.record_sent(recipient_id=first.pk, now=now)  # its SendLog row not written yet
    assert limits.database_hourly_count(now=now) == 2

    outcomes.log_send(campaign_id=campaign.pk, recipient=first, status=SendLog.Status.SENT)
    assert limits.database_hourly_count(now=now) == 2  # counted once, by its log row


@pytest.mark.django_db
def test_a_message_whose_outcome_is_unknown_counts_in_the_hourly_limit(clock, owner):
    # Dropped after DATA: it may well have arrived, so the database count (the limit with
    # Redis down, and the counter's floor) must not hand its slot to another message.
    campaign = make_campaign(owner, recipients=1)
    [recipient] = campaign.recipients.all()
    now = timezone.now()
    transitions.claim_recipient(recipient_id=recipient.pk, message_id="<m@x>", now=now)
    transitions.record_unknown(recipient_id=recipient.pk, text="соединение оборвалось после DATA")
    outcomes.log_send(campaign_id=campaign.pk, recipient=recipient, status=SendLog.Status.FAILED)

    assert limits.database_hourly_count(now=now) == 1


@pytest.mark.django_db
def test_a_sent_recipient_whose_log_row_was_lost_counts_in_the_owners_day_for_the_sender(clock, owner):
    campaign = make_campaign(owner, recipients=2)
    first, second = campaign.recipients.order_by("id")
    now = timezone.now()
    for recipient in (first, second):  # a run killed outright: the last log batch never written
        transitions.claim_recipient(recipient_id=recipient.pk, message_id="<m@x>", now=now)
        transitions.record_sent(recipient_id=recipient.pk, now=now)
    outcomes.log_send(campaign_id=campaign.pk, recipient=first, status=SendLog.Status.SENT)

    assert selectors.owner_sent_today(owner.pk, now=now, unlogged=True) == 2
    assert selectors.owner_sent_today(owner.pk, now=now) == 1  # what the poll shows: the log
