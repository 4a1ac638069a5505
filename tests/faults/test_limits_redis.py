"""The hourly limit when Redis goes away, comes back empty, and while senders overlap
(findings 3 and 9 of issue 10). Each test prints its figure."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from mailer import services
from mailer.engine import limits, sender
from mailer.models import CampaignQueue, SendLog
from tests.conftest import make_campaign, msk, unreachable_redis_caches

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

KEY_10 = "crm:mailer:rate:hour:2026-11-30:10"


@pytest.fixture
def redis(settings):
    """Takes the real Redis away (a port where nothing listens) and gives it back mid-test."""
    real = settings.CACHES

    class Switch:
        def down(self):
            settings.CACHES = unreachable_redis_caches()

        def up(self):
            settings.CACHES = real

    return Switch()


def sent_this_hour():
    return limits.database_hourly_count(now=timezone.now())


def start(owner, recipients, name):
    campaign = make_campaign(owner, recipients=recipients, name=name)
    services.campaign_start(campaign=campaign, user=owner)
    return campaign


def test_redis_down_campaigns_and_extra_passes_share_one_hour_then_the_next_hour_opens(
    clock, inbox, owner, settings, redis
):
    settings.MAILER_RATE_PER_HOUR = 30
    campaigns = [start(owner, 20, f"Кампания {i}") for i in range(3)]
    redis.down()

    for _ in range(3):  # the periodic pass, then two manual ones (mailer_send_now)
        sender.run_sender_pass()

    print(f"\nRedis down, limit 30, 3 campaigns × 20, 3 passes: {len(inbox.received)} sent")
    assert len(inbox.received) == sent_this_hour() == 30
    deferred = CampaignQueue.objects.get(campaign=campaigns[1])
    assert (deferred.defer_reason, deferred.deferred_until) == ("rate_per_hour", msk(2026, 11, 30, 11, 0))

    clock.move_to(msk(2026, 11, 30, 10, 59, 59))
    sender.run_sender_pass()
    assert len(inbox.received) == 30  # the last second of the hour is still full

    clock.move_to(msk(2026, 11, 30, 11, 0))
    sender.run_sender_pass()
    print(f"… and at 11:00 with Redis still down: {len(inbox.received) - 30} more")
    assert len(inbox.received) == 60
    assert SendLog.objects.filter(status="sent").count() == 60


def test_redis_restarted_empty_mid_hour_counts_from_the_database_and_never_goes_negative(
    clock, inbox, owner, settings, redis
):
    settings.MAILER_RATE_PER_HOUR = 30
    first = start(owner, 20, "До перезапуска")
    second = start(owner, 20, "После перезапуска")
    third = start(owner, 5, "Пока Redis лежит")
    CampaignQueue.objects.filter(campaign__in=[second, third]).update(priority=-1)
    sender.run_sender_pass()
    assert first.recipients.filter(status="sent").count() == 20

    cache.clear()  # Redis restarted without its data
    sender.run_sender_pass()
    assert len(inbox.received) == 30
    assert cache.get(KEY_10) == 30  # raised to what the database says was sent

    redis.down()
    holder = limits.HourlyAllowance(limit=30, batch=200)
    holder.prepare(now=timezone.now())  # a sender that took its slots while Redis was down
    sender.run_sender_pass()
    redis.up()
    holder.give_back()  # …gives them back after Redis returned

    print(f"\nRedis restarted empty, limit 30: {len(inbox.received)} sent, counter {cache.get(KEY_10)}")
    assert len(inbox.received) == 30
    assert cache.get(KEY_10) == 30


def test_a_give_back_never_drives_the_counter_below_what_was_sent(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=1)
    for _ in range(3):
        services.send_test_email(campaign=campaign, user=owner, to="me@crm.example")
    cache.set(KEY_10, 1)  # a counter that missed two sends

    limits.uncount_hourly_send(now=timezone.now(), count=5)

    assert cache.get(KEY_10) == 3 == SendLog.objects.filter(status="sent").count()


def test_a_run_holds_few_slots_so_a_test_email_and_an_overlapping_sender_still_get_theirs(clock, inbox, owner):
    running = limits.HourlyAllowance(limit=100, batch=200)
    running.prepare(now=timezone.now())
    assert cache.get(KEY_10) == 10  # a tenth of the hour, not the whole limit

    services.send_test_email(campaign=make_campaign(owner, recipients=1), user=owner, to="me@crm.example")
    overlapping = start(owner, 50, "Параллельная")
    sender.run_sender_pass()

    print(f"\nLimit 100, a run holding its slots: test e-mail sent, overlapping sender {len(inbox.received) - 1}/50")
    assert overlapping.recipients.filter(status="sent").count() == 50
    running.give_back()
    assert cache.get(KEY_10) == 51


def test_near_the_limit_slots_are_taken_one_at_a_time(clock, inbox, owner, settings):
    settings.MAILER_RATE_PER_HOUR = 100
    cache.set(KEY_10, 95)
    first, second = limits.HourlyAllowance(limit=100, batch=200), limits.HourlyAllowance(limit=100, batch=200)
    first.prepare(now=timezone.now())
    second.prepare(now=timezone.now())
    assert (first.spare, second.spare, cache.get(KEY_10)) == (1, 1, 97)


def test_at_the_hour_end_unused_slots_go_back_to_the_hour_they_were_taken_from(clock, inbox, owner):
    clock.move_to(msk(2026, 11, 30, 10, 59, 59))
    run = limits.HourlyAllowance(limit=100, batch=200)
    run.prepare(now=timezone.now())
    run.use()
    run.use()

    clock.move_to(msk(2026, 11, 30, 11, 0))
    run.prepare(now=timezone.now())

    assert cache.get(KEY_10) == 2  # the eight unused slots went back to 10:00
    assert cache.get("crm:mailer:rate:hour:2026-11-30:11") == 10  # a fresh tenth of the new hour
    assert run.sent() == 0
