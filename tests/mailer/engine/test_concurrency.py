"""Two senders at once, and the sender lock (checklist 9)."""

import threading
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from mailer import services
from mailer.engine import limits, sender
from mailer.models import SendLog
from tests.conftest import make_campaign


def _in_thread(target, barrier, errors):
    def run():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_deliver_each_address_exactly_once(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 10_000
    campaign = make_campaign(owner, recipients=150)
    services.campaign_start(campaign=campaign, user=owner)
    inbox.on_message = lambda received: time.sleep(0.002)  # let the two interleave

    barrier, errors = threading.Barrier(2), []
    # process_queues skips the lock on purpose: the database claims alone must hold.
    threads = [_in_thread(sender.process_queues, barrier, errors) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({received.peer for received in inbox.received}) == 2  # both senders delivered
    addresses = inbox.addresses()
    assert len(addresses) == 150 and len(set(addresses)) == 150
    assert SendLog.objects.filter(status="sent").count() == 150
    assert SendLog.objects.values("recipient").distinct().count() == 150
    assert campaign.recipients.filter(status="sent").count() == 150
    senders = {log.smtp_message_id for log in SendLog.objects.all()}
    assert len(senders) == 150


@pytest.mark.django_db
def test_lock_is_held_with_a_ttl_while_sending_and_released_after(clock, inbox, owner):
    raw = redis.Redis.from_url(settings.REDIS_URL)
    seen = []
    inbox.on_message = lambda received: seen.append((raw.get(limits.SENDER_LOCK_KEY), raw.ttl(limits.SENDER_LOCK_KEY)))
    campaign = make_campaign(owner, recipients=2)
    services.campaign_start(campaign=campaign, user=owner)
    sender.run_sender_pass()

    value, ttl = seen[0]
    assert value is not None and 590 <= ttl <= 600
    assert raw.get(limits.SENDER_LOCK_KEY) is None


@pytest.mark.django_db
def test_a_second_sender_skips_while_the_lock_is_held(clock, inbox, owner, caplog):
    campaign = make_campaign(owner, recipients=2)
    services.campaign_start(campaign=campaign, user=owner)
    other = limits.SenderLock()
    assert other.acquire()

    with caplog.at_level("INFO", logger="mailer"):
        sender.run_sender_pass()
    assert inbox.received == []
    assert "Another sender holds the lock, skipping this pass" in caplog.messages

    other.release()
    sender.run_sender_pass()
    assert len(inbox.received) == 2


@pytest.mark.django_db
def test_lock_is_released_only_by_its_owner(db):
    first, second = limits.SenderLock(), limits.SenderLock()
    assert first.acquire()
    assert not second.acquire()
    second.release()
    assert cache.get(limits.SENDER_LOCK_KEY) == first.token
    first.release()
    assert cache.get(limits.SENDER_LOCK_KEY) is None


@pytest.mark.django_db
def test_a_sender_that_lost_its_lock_stops(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=300)
    services.campaign_start(campaign=campaign, user=owner)
    lock = limits.SenderLock()
    assert lock.acquire()
    cache.set(limits.SENDER_LOCK_KEY, 42, 600)  # expired and taken by another sender

    sender.process_queues(lock=lock)

    assert inbox.received == []
    assert campaign.recipients.filter(status="pending").count() == 300
