"""The poll endpoint and the dashboard (checklist 8.2, 18.1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mailer import services
from mailer.engine import sender
from mailer.models import CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

POLL_KEYS = {
    "active_campaign",
    "queued_count",
    "next_campaign_at",
    "reason_code",
    "reason_text",
    "next_run_at",
    "hourly",
    "quota",
    "daily",
}


def poll(client, campaign=None):
    url = reverse("mailer_poll") + (f"?campaign={campaign.pk}" if campaign else "")
    response = client.get(url)
    assert response.status_code == 200
    return response.json()


def test_poll_shows_the_active_campaign_and_the_queue(client, manager_a, inbox, clock, settings):
    settings.MAILER_RATE_PER_HOUR = 2
    first = make_campaign(manager_a, recipients=3, name="Первая")
    second = make_campaign(manager_a, recipients=1, name="Вторая")
    services.campaign_start(campaign=first, user=manager_a)
    clock.shift(60)
    services.campaign_start(campaign=second, user=manager_a)
    sender.run_sender_pass()
    client.force_login(manager_a)

    state = poll(client, first)

    assert set(state) >= POLL_KEYS
    active = state["active_campaign"]
    assert (active["name"], active["total"], active["sent"], active["pending"], active["percent"]) == (
        "Первая",
        3,
        2,
        1,
        67,
    )
    assert state["reason_code"] == "rate_per_hour"
    assert state["reason_text"] == "Достигнут лимит писем в час. Продолжится сегодня в 11:00 (МСК)."
    assert state["next_run_at"] == msk(2026, 11, 30, 11, 0).isoformat()
    assert state["queued_count"] == 1
    assert state["next_campaign_at"] == msk(2026, 11, 30, 11, 0).isoformat()
    assert state["hourly"] == {"used": 2, "limit": 2}
    assert state["daily"]["used"] == 2
    assert state["campaign"]["reason_text"].startswith("Достигнут лимит писем в час")


@pytest.mark.parametrize(
    ("reason", "until", "text"),
    [
        (
            "outside_hours",
            msk(2026, 12, 1, 9, 0),
            "Вне рабочего времени (09:00–18:00 МСК). Продолжится 01.12.2026 в 09:00 (МСК).",
        ),
        (
            "daily_limit",
            msk(2026, 12, 1, 9, 0),
            "Достигнут дневной лимит менеджера. Продолжится 01.12.2026 в 09:00 (МСК).",
        ),
        (
            "quota_exhausted",
            msk(2026, 11, 30, 11, 0),
            "Исчерпана месячная квота провайдера. Продолжится сегодня в 11:00 (МСК).",
        ),
        (
            "circuit_breaker",
            None,
            "Много ошибок SMTP подряд. Проверьте настройки почты и возобновите кампанию вручную.",
        ),
    ],
)
def test_every_defer_reason_reads_in_russian(client, manager_a, clock, reason, until, text):
    campaign = make_campaign(manager_a, recipients=1)
    status = "paused" if reason == "circuit_breaker" else "pending"
    CampaignQueue.objects.create(
        campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0), status=status, defer_reason=reason, deferred_until=until
    )
    client.force_login(manager_a)
    state = poll(client, campaign)
    assert (state["campaign"]["reason_code"], state["campaign"]["reason_text"]) == (reason, text)


def test_poll_hides_other_managers_campaign_names(client, manager_a, manager_b, clock):
    campaign = make_campaign(manager_b, recipients=1, name="Секретная")
    CampaignQueue.objects.create(campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0))
    client.force_login(manager_a)
    state = poll(client)
    assert state["active_campaign"]["name"] == "Кампания другого менеджера"
    assert state["active_campaign"]["id"] is None
    assert client.get(reverse("mailer_poll") + f"?campaign={campaign.pk}").status_code == 404


def test_poll_queries_do_not_grow_with_recipients(client, manager_a, clock):
    client.force_login(manager_a)
    small = make_campaign(manager_a, recipients=2, name="small")
    CampaignQueue.objects.create(campaign=small, queued_at=msk(2026, 11, 30, 9, 0))
    poll(client, small)  # the first call creates the mail account row
    with CaptureQueriesContext(connection) as few:
        poll(client, small)
    CampaignRecipient.objects.bulk_create(
        CampaignRecipient(campaign=small, email=f"more{i}@example.com") for i in range(500)
    )
    with CaptureQueriesContext(connection) as many:
        poll(client, small)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_dashboard_shows_today_limits_and_active_campaign(client, superuser, manager_a, inbox, clock):
    campaign = make_campaign(manager_a, recipients=2, name="Активная")
    services.campaign_start(campaign=campaign, user=manager_a)
    sender.run_sender_pass()
    client.force_login(superuser)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="dash-sent-today">2<' in page
    assert "2 / 100" in page
    assert "Отправлено по часам за последние 24 часа" in page


@pytest.mark.parametrize("campaign_id", ["²", "٣", "9" * 30])
def test_poll_with_a_campaign_id_that_is_no_number_is_a_404(client, manager_a, campaign_id):
    client.force_login(manager_a)
    assert client.get(reverse("mailer_poll"), {"campaign": campaign_id}).status_code == 404
