"""Planned campaigns: «Запланировать», the wait with its own reason, the gates after it,
«Отменить расписание», and how the list, the queue, the poll and the dashboard say it."""

import pytest

from mailer import selectors, services
from mailer.engine import sender
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

Reason = CampaignQueue.DeferReason
PLANNED = msk(2026, 12, 3, 10, 0)
SAID = "Запланирована на 03.12.2026 в 10:00 (МСК)."


def schedule(campaign, at=PLANNED):
    return services.campaign_schedule(campaign=campaign, user=campaign.created_by, at=at)


def test_a_planned_campaign_waits_with_its_reason_then_goes_at_its_time(clock, inbox, owner):
    campaign = schedule(make_campaign(owner, recipients=2))
    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (campaign.status, campaign.scheduled_at) == (Campaign.Status.READY, PLANNED)
    assert (queue.status, queue.defer_reason, queue.deferred_until) == ("pending", Reason.SCHEDULED, PLANNED)
    assert selectors.reason_text(queue, now=msk(2026, 11, 30, 10, 0)) == SAID

    clock.move_to(msk(2026, 12, 3, 9, 59))
    sender.run_sender_pass()
    assert inbox.received == []

    clock.move_to(PLANNED)
    sender.run_sender_pass()
    assert sorted(inbox.addresses()) == ["client0@example.com", "client1@example.com"]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_every_gate_still_applies_when_the_time_comes(clock, inbox, owner):
    schedule(make_campaign(owner, recipients=1), at=msk(2026, 12, 3, 20, 0))  # after working hours
    clock.move_to(msk(2026, 12, 3, 20, 0))
    sender.run_sender_pass()
    queue = CampaignQueue.objects.get()
    assert inbox.received == []
    assert (queue.defer_reason, queue.deferred_until) == (Reason.OUTSIDE_HOURS, msk(2026, 12, 4, 9, 0))


def test_a_planned_campaign_does_not_hold_up_one_started_now(clock, inbox, owner):
    schedule(make_campaign(owner, recipients=1, name="Потом", emails=["later@example.com"]))
    services.campaign_start(campaign=make_campaign(owner, emails=["now@example.com"], name="Сейчас"), user=owner)
    sender.run_sender_pass()
    assert inbox.addresses() == ["now@example.com"]
    # Not in line before its time: the dashboard and the poll list it apart.
    snapshot = selectors.snapshot(now=msk(2026, 11, 30, 10, 1))
    assert (snapshot.active_campaign, snapshot.queued_count) == (None, 0)
    assert [(p.name, p.at) for p in snapshot.planned] == [("Потом", PLANNED)]
    other = selectors.snapshot(now=msk(2026, 11, 30, 10, 1), can_see=lambda campaign: False)
    assert [(p.id, p.name) for p in other.planned] == [(None, "Кампания другого менеджера")]
    due = selectors.snapshot(now=PLANNED)
    assert (due.active_campaign.name, due.reason_text) == ("Потом", SAID)  # its time came: first in line


@pytest.mark.parametrize(
    ("at", "refusal"),
    [
        (msk(2026, 11, 30, 9, 59), "Время отправки уже прошло"),
        (msk(2027, 12, 31, 10, 0), "не дальше чем на 365 дней"),
    ],
)
def test_a_time_in_the_past_or_too_far_ahead_is_refused(clock, mail_account, owner, at, refusal):
    campaign = make_campaign(owner, recipients=1)
    with pytest.raises(MailerError, match=refusal):
        schedule(campaign, at=at)
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT


def test_planning_is_checked_and_throttled_as_a_start(clock, mail_account, owner, settings):
    with pytest.raises(MailerError, match="Нет писем в очереди"):
        schedule(make_campaign(owner))
    settings.MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR = 1
    schedule(make_campaign(owner, recipients=1))
    with pytest.raises(MailerError, match="Слишком часто"):
        services.campaign_start(campaign=make_campaign(owner, recipients=1), user=owner)


def test_unschedule_makes_a_draft_again_unless_the_sender_took_it(clock, inbox, owner):
    campaign = schedule(make_campaign(owner, recipients=1))
    campaign = services.campaign_unschedule(campaign=campaign, user=owner)
    assert (campaign.status, campaign.scheduled_at, campaign.is_editable) == (Campaign.Status.DRAFT, None, True)
    assert not CampaignQueue.objects.exists()

    schedule(campaign)
    clock.move_to(PLANNED)
    sender.run_sender_pass()
    with pytest.raises(MailerError, match="нельзя снять с расписания"):
        services.campaign_unschedule(campaign=campaign, user=owner)
