"""The pure rules: working hours, defer times and the order of the gates."""

from datetime import UTC, datetime

import pytest

from mailer.engine import policy
from mailer.models import CampaignQueue
from tests.conftest import msk

Reason = CampaignQueue.DeferReason


def budget(**overrides):
    values = dict(hourly_sent=0, hourly_limit=100, owner_sent_today=0, daily_limit=0, quota_available=None)
    return policy.SendingBudget(**{**values, **overrides})


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (msk(2026, 11, 30, 8, 59, 59), False),
        (msk(2026, 11, 30, 9, 0), True),
        (msk(2026, 11, 30, 17, 59, 59), True),
        (msk(2026, 11, 30, 18, 0), False),
        (msk(2026, 11, 30, 20, 0), False),
        (datetime(2026, 11, 30, 6, 0, tzinfo=UTC), True),  # 09:00 in Moscow
        (datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC), True),  # 17:59:59 in Moscow
        (datetime(2026, 11, 30, 15, 0, tzinfo=UTC), False),  # 18:00 in Moscow
    ],
)
def test_working_hours_are_nine_to_six_in_moscow(moment, working):
    assert policy.is_working_hours(now=moment) is working


def test_working_hours_can_be_switched_off(settings):
    settings.MAILER_WORKING_HOURS_ENABLED = False
    assert policy.is_working_hours(now=msk(2026, 11, 30, 3, 0))


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (msk(2026, 11, 30, 8, 59), msk(2026, 11, 30, 9, 0)),  # before opening: today
        (msk(2026, 11, 30, 18, 0), msk(2026, 12, 1, 9, 0)),
        (msk(2026, 11, 30, 20, 0), msk(2026, 12, 1, 9, 0)),  # month end
        (msk(2026, 12, 31, 23, 59, 59), msk(2027, 1, 1, 9, 0)),  # year end
    ],
)
def test_next_working_start(moment, opening):
    assert policy.next_working_start(now=moment) == opening


@pytest.mark.parametrize(
    ("moment", "next_hour"),
    [
        (msk(2026, 11, 30, 10, 0), msk(2026, 11, 30, 11, 0)),
        (msk(2026, 11, 30, 10, 59, 59), msk(2026, 11, 30, 11, 0)),
        (msk(2026, 11, 30, 23, 30), msk(2026, 12, 1, 0, 0)),  # hour end at month end
    ],
)
def test_next_hour_start(moment, next_hour):
    assert policy.next_hour_start(now=moment) == next_hour


def test_hour_label_is_moscow_time():
    assert policy.hour_label(now=datetime(2026, 11, 30, 7, 15, tzinfo=UTC)) == "2026-11-30:10"


def test_all_gates_open():
    assert policy.first_blocking_gate(budget(hourly_sent=99), now=msk(2026, 11, 30, 10, 0)) is None


@pytest.mark.parametrize(
    ("overrides", "moment", "reason", "until"),
    [
        ({}, msk(2026, 11, 30, 20, 0), Reason.OUTSIDE_HOURS, msk(2026, 12, 1, 9, 0)),
        ({"quota_available": 0}, msk(2026, 11, 30, 10, 20), Reason.QUOTA_EXHAUSTED, msk(2026, 11, 30, 11, 0)),
        (
            {"daily_limit": 50, "owner_sent_today": 50},
            msk(2026, 11, 30, 10, 20),
            Reason.DAILY_LIMIT,
            msk(2026, 12, 1, 9, 0),
        ),
        ({"hourly_sent": 100}, msk(2026, 11, 30, 10, 20), Reason.RATE_PER_HOUR, msk(2026, 11, 30, 11, 0)),
    ],
)
def test_each_gate_defers_to_when_it_opens(overrides, moment, reason, until):
    deferral = policy.first_blocking_gate(budget(**overrides), now=moment)
    assert (deferral.reason, deferral.until) == (reason, until)


def test_gates_report_the_first_closed_one():
    everything_closed = budget(hourly_sent=100, quota_available=0, daily_limit=1, owner_sent_today=1)
    assert policy.first_blocking_gate(everything_closed, now=msk(2026, 11, 30, 20, 0)).reason == Reason.OUTSIDE_HOURS
    assert policy.first_blocking_gate(everything_closed, now=msk(2026, 11, 30, 10, 0)).reason == Reason.QUOTA_EXHAUSTED


def test_unknown_quota_and_zero_daily_limit_do_not_block():
    open_budget = budget(quota_available=None, daily_limit=0, owner_sent_today=10_000)
    assert policy.first_blocking_gate(open_budget, now=msk(2026, 11, 30, 10, 0)) is None


def test_circuit_breaker_threshold(settings):
    assert not policy.trips_circuit_breaker(9)
    assert policy.trips_circuit_breaker(10)
    settings.MAILER_CIRCUIT_BREAKER_THRESHOLD = 3
    assert policy.trips_circuit_breaker(3)


# --- labels built from the settings, one time zone --------------------------------------------


def test_the_working_hours_label_is_built_from_the_settings(settings):
    assert policy.working_hours_label() == "09:00–18:00 МСК"
    settings.MAILER_WORKING_HOURS_START, settings.MAILER_WORKING_HOURS_END = 8, 20
    assert policy.working_hours_label() == "08:00–20:00 МСК"
    settings.TIME_ZONE = "Asia/Yekaterinburg"
    assert policy.working_hours_label() == "08:00–20:00 МСК+2"
    settings.TIME_ZONE = "Europe/Berlin"  # no Russian short name: the zone's own
    assert policy.zone_label() == "Europe/Berlin"


def test_the_rules_follow_the_one_time_zone_setting(settings):
    settings.TIME_ZONE = "Asia/Yekaterinburg"  # two hours ahead of Moscow
    assert policy.is_working_hours(now=msk(2026, 11, 30, 7, 30))  # 09:30 there
    assert not policy.is_working_hours(now=msk(2026, 11, 30, 16, 30))  # 18:30 there
    assert policy.hour_label(now=msk(2026, 11, 30, 10, 0)) == "2026-11-30:12"


@pytest.mark.django_db
def test_a_deferral_outside_hours_names_the_configured_hours(settings):
    from mailer import selectors

    settings.MAILER_WORKING_HOURS_START = 10
    queue = CampaignQueue(defer_reason="outside_hours", deferred_until=msk(2026, 12, 1, 10, 0))
    assert selectors.reason_text(queue, now=msk(2026, 11, 30, 20, 0)) == (
        "Вне рабочего времени (10:00–18:00 МСК). Продолжится 01.12.2026 в 10:00 (МСК)."
    )


@pytest.mark.parametrize(
    ("sent", "limit", "batch", "slots"),
    [
        (0, 100, 200, 10),  # a tenth of what is left, never the whole hour
        (0, 5000, 200, 200),  # at most a batch
        (80, 100, 200, 2),
        (91, 100, 200, 1),  # one at a time near the limit
        (99, 100, 200, 1),
        (100, 100, 200, 0),
        (130, 100, 200, 0),  # over (a counter raised from the database): nothing
    ],
)
def test_slots_reserved_at_once(sent, limit, batch, slots):
    assert policy.slots_to_reserve(sent=sent, limit=limit, batch=batch) == slots


@pytest.mark.parametrize(
    ("moment", "start"),
    [
        (msk(2026, 11, 30, 10, 59, 59), msk(2026, 11, 30, 10, 0)),
        (msk(2026, 11, 30, 11, 0), msk(2026, 11, 30, 11, 0)),
        (datetime(2026, 11, 30, 20, 30, tzinfo=UTC), msk(2026, 11, 30, 23, 0)),
    ],
)
def test_hour_start_is_the_clock_hour_in_the_mailers_zone(moment, start):
    assert policy.hour_start(now=moment) == start
