"""Stuck queues and interrupted sends (checklist 15.3)."""

from datetime import timedelta

import pytest

from mailer import services
from mailer.engine import sender
from mailer.models import CampaignQueue, CampaignRecipient
from mailer.tasks import reconcile_campaign_queue
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db


def _processing_since(campaign, moment):
    return CampaignQueue.objects.create(
        campaign=campaign, queued_at=moment, status="processing", started_at=moment, heartbeat_at=moment
    )


def test_queue_without_progress_for_30_minutes_is_reported(clock, owner, caplog):
    stuck = _processing_since(make_campaign(owner, name="stuck"), msk(2026, 11, 30, 9, 29, 59))
    _processing_since(make_campaign(owner, name="alive"), msk(2026, 11, 30, 9, 30, 1))

    with caplog.at_level("WARNING", logger="mailer"):
        result = reconcile_campaign_queue.call_local()

    warnings = [r for r in caplog.records if r.getMessage().startswith("Stuck campaign queue")]
    assert [(r.queue_id, r.minutes_stuck) for r in warnings] == [(stuck.pk, 30)]
    assert result == {"stuck_queues": 1, "interrupted_recipients": 0}


def test_an_interrupted_send_is_marked_unknown_and_never_resent(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=3)
    services.campaign_start(campaign=campaign, user=owner)
    crashed = campaign.recipients.order_by("id").first()
    # A sender claimed it and died before recording the outcome.
    CampaignRecipient.objects.filter(pk=crashed.pk).update(
        status="sending", claimed_at=msk(2026, 11, 30, 9, 0), smtp_message_id="<x@example.ru>"
    )
    sender.run_sender_pass()
    assert len(inbox.received) == 2

    clock.move_to(msk(2026, 11, 30, 9, 31) + timedelta(hours=1))
    reconcile_campaign_queue.call_local()
    sender.run_sender_pass()

    crashed.refresh_from_db()
    assert (crashed.status, crashed.error_kind) == ("unknown", "interrupted")
    assert "неизвестно, дошло ли письмо" in crashed.last_error
    assert len(inbox.received) == 2  # not sent again
    assert CampaignQueue.objects.get(campaign=campaign).status == "completed"


def test_a_fresh_claim_is_left_alone(clock, owner):
    campaign = make_campaign(owner, recipients=1)
    campaign.recipients.update(status="sending", claimed_at=msk(2026, 11, 30, 9, 58, 1))  # within the grace
    reconcile_campaign_queue.call_local()
    assert campaign.recipients.get().status == "sending"
