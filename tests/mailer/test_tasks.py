"""The Huey schedule and entry points (checklist 4, 15)."""

from datetime import datetime

import pytest
from huey.contrib.djhuey import HUEY

from mailer import tasks
from mailer.tasks import _is_working_hours
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db


def _runs_at(task, minute):
    return task.task_class().validate_datetime(datetime(2026, 11, 30, 10, minute))


def test_the_sender_runs_every_minute_and_again_thirty_seconds_later(clock, inbox, owner):
    from mailer import services

    HUEY.flush()
    campaign = make_campaign(owner, recipients=2)
    services.campaign_start(campaign=campaign, user=owner)

    tasks.schedule_send_pending_emails.call_local()

    assert len(inbox.received) == 2  # the first run (immediate mode runs it inline)
    [second_run] = HUEY.scheduled()
    assert second_run.name.endswith("send_pending_emails")
    assert (second_run.eta - datetime(2026, 11, 30, 7, 0)).total_seconds() == 30
    assert all(_runs_at(tasks.schedule_send_pending_emails, m) for m in range(60))


def test_quota_sync_is_hourly_and_reconcile_every_five_minutes():
    assert [m for m in range(60) if _runs_at(tasks.sync_smtp_bz_quota, m)] == [0]
    assert [m for m in range(60) if _runs_at(tasks.reconcile_campaign_queue, m)] == list(range(0, 60, 5))


def test_is_working_hours_reads_the_clock(clock):
    assert _is_working_hours() is True
    clock.move_to(msk(2026, 11, 30, 20, 0))
    assert _is_working_hours() is False
