"""Resume and retry with Redis down (finding 4 of issue 10): the action is done, staff read a
normal Russian message instead of an HTTP 500, the wake-up is skipped in one log line, and the
next periodic pass sends (with the hourly limit counted in the database)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from mailer import services, tasks
from mailer.engine import sender
from mailer.models import Campaign, CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CONFIRM = {"_form_submitted": "on"}
SKIPPED = "Sender wake-up skipped: the task queue is unavailable"


def post(client, campaign, action):
    url = reverse("admin:mailer_campaign_changelist") + f"{campaign.pk}/{action}/"
    response = client.post(url, CONFIRM, follow=True)
    return response.status_code, [str(m) for m in response.context["messages"]]


def queued(campaign):
    """A started campaign (starting itself needs Redis for its throttle)."""
    CampaignQueue.objects.create(campaign=campaign, queued_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    return campaign


@pytest.fixture
def staff(client, owner):
    owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    return client


def test_resume_with_redis_down_answers_normally_and_the_next_tick_sends(
    staff, owner, inbox, clock, redis_down, broker_down, caplog
):
    campaign = queued(make_campaign(owner, recipients=3))
    services.campaign_pause(campaign=campaign, user=owner)

    with caplog.at_level("WARNING", logger="mailer"):
        status, messages = post(staff, campaign, "resume")

    assert status == 200
    assert messages == [f"Кампания «{campaign.name}» возобновлена: отправка продолжится, как только позволят лимиты."]
    assert [r.getMessage() for r in caplog.records if r.name == "mailer.tasks"] == [SKIPPED]
    sender.run_sender_pass()  # the next periodic tick (or cron's mailer_send_now)
    assert len(inbox.received) == 3


def test_retry_with_redis_down_answers_normally_and_the_next_tick_sends(
    staff, owner, inbox, clock, redis_down, broker_down
):
    campaign = queued(make_campaign(owner, recipients=2))
    campaign.recipients.update(status=CampaignRecipient.Status.FAILED, error_kind=CampaignRecipient.ErrorKind.TRANSIENT)

    status, messages = post(staff, campaign, "retry-failed")

    assert (status, messages) == (200, ["В очередь возвращено писем: 2."])
    sender.run_sender_pass()
    assert len(inbox.received) == 2


def test_the_wake_up_still_queues_a_pass_when_the_broker_is_up(owner, inbox, clock):
    # The suite's Huey runs tasks at once: the wake-up sends without waiting for a tick.
    services.campaign_start(campaign=make_campaign(owner, recipients=1), user=owner)
    tasks.wake_sender()
    assert len(inbox.received) == 1
