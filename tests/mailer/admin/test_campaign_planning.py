"""The screen's «Запланировать», «Отменить расписание» and «Дублировать»: the dialogs, what
staff read after them, and where a plan shows (list, queue, page, dashboard, poll)."""

import pytest
from django.urls import reverse

from mailer.models import Campaign
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

PLANNED = msk(2026, 12, 3, 10, 0)
SAID = "Запланирована на 03.12.2026 в 10:00 (МСК)."


def action_url(campaign, path):
    return reverse("admin:mailer_campaign_change", args=[campaign.pk]).removesuffix("change/") + path


def test_staff_plan_in_moscow_time_and_see_it_everywhere(client, manager_a, mail_account, clock):
    campaign = make_campaign(manager_a, recipients=2, name="Весенняя")
    client.force_login(manager_a)
    page = reverse("admin:mailer_campaign_change", args=[campaign.pk])
    dialog = client.get(action_url(campaign, "schedule/")).content.decode()
    assert 'type="datetime-local"' in dialog and "(МСК)" in dialog

    posted = client.post(
        action_url(campaign, "schedule/"), {"_form_submitted": "on", "at": "2026-12-03T10:00", "confirm": "on"}
    )
    assert posted.status_code == 302
    said = [str(m) for m in client.get(posted["Location"]).context["messages"]]
    assert said == ["Кампания «Весенняя» запланирована на 03.12.2026 в 10:00 (МСК)."]
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at == PLANNED

    label = SAID.rstrip(".")
    assert label in client.get(reverse("admin:mailer_campaign_changelist")).content.decode()
    assert SAID in client.get(reverse("admin:mailer_campaignqueue_changelist")).content.decode()
    assert SAID in client.get(page).content.decode()
    dashboard = client.get(reverse("admin:index")).content.decode()
    assert "Весенняя</a> — 03.12.2026 в 10:00 (МСК)" in dashboard
    polled = client.get(reverse("mailer_poll") + f"?campaign={campaign.pk}").json()
    assert (polled["campaign"]["status_text"], polled["campaign"]["reason_text"]) == (label, SAID)
    assert polled["campaign"]["reason_code"] == "scheduled"
