"""The campaign report screen: figures, bounces, export; managers see their own campaigns only."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailer import transitions
from mailer.models import CampaignRecipient, Unsubscribe
from mailer.suppression import suppress
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db
NOW = msk(2026, 11, 30, 12, 0)


def report_url(campaign, tail=""):
    return f"/admin/mailer/campaignreport/{campaign.pk}/report/{tail}"


@pytest.fixture
def reported(manager_a):
    """Four sent: two delivered (one opened), one hard bounce, one soft; one unsubscribed."""
    campaign = make_campaign(
        manager_a,
        emails=["anna@example.ru", "boris@example.ru", "vera@example.ru", "gleb@example.ru", "dina@example.ru"],
        name="Отчётная",
    )
    recipients = list(campaign.recipients.order_by("pk"))
    CampaignRecipient.objects.filter(pk__in=[r.pk for r in recipients[:4]]).update(
        status="sent", sent_at=msk(2026, 11, 30, 10, 0)
    )
    CampaignRecipient.objects.filter(pk=recipients[0].pk).update(name="=HYPERLINK(1)")
    outcomes = [
        ("delivered", "", msk(2026, 11, 30, 11, 0)),
        ("delivered", "", None),
        ("hard_bounce", "550 5.1.1 User unknown", None),
        ("soft_bounce", "452 Mailbox full", None),
    ]
    for recipient, (status, reason, opened_at) in zip(recipients, outcomes, strict=False):
        transitions.record_delivery(
            recipient_id=recipient.pk,
            campaign_id=campaign.pk,
            status=status,
            status_at=msk(2026, 11, 30, 10, 5),
            reason=reason,
            opened_at=opened_at,
            now=NOW,
        )
    suppress("anna@example.ru", source=Unsubscribe.Source.LINK, campaign=campaign)
    return campaign


def test_the_owner_sees_counts_rates_and_bounces(as_user, manager_a, reported):
    page = as_user(manager_a).get(report_url(reported))
    assert page.status_code == 200
    figures = {f.key: (f.count, f.rate) for f in page.context["report"].figures}
    assert figures == {
        "sent": (4, None),
        "delivered": (2, 50.0),
        "bounced": (2, 50.0),
        "opened": (1, 50.0),
        "unsubscribed": (1, 25.0),
    }
    assert (page.context["report"].hard_bounces, page.context["report"].soft_bounces) == (1, 1)
    html = page.content.decode()
    assert "550 5.1.1 User unknown" in html and "vera@example.ru" in html and "boris@example.ru" not in html
    assert page.context["report"].chart["datasets"][0]["data"] == [4, 0]  # 10:00 and 11:00


def test_another_manager_gets_a_404_and_does_not_see_the_campaign_in_the_list(as_user, manager_b, reported):
    client = as_user(manager_b)
    assert client.get(report_url(reported)).status_code == 404
    assert client.get(report_url(reported, "csv/")).status_code == 404
    listing = client.get("/admin/mailer/campaignreport/")
    assert listing.status_code == 200 and "Отчётная" not in listing.content.decode()


def test_the_superuser_sees_every_campaign(as_user, superuser, reported):
    listing = as_user(superuser).get("/admin/mailer/campaignreport/")
    assert "Отчётная" in listing.content.decode() and "2 (50,0 %)" in listing.content.decode()


def test_the_list_reads_its_page_rows_only_whatever_the_number_of_campaigns(as_user, superuser, reported):
    client = as_user(superuser)
    client.get("/admin/mailer/campaignreport/")  # the session's first request warms the rest

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/mailer/campaignreport/").status_code == 200
        return captured.captured_queries

    few = queries()
    for number in range(4):
        make_campaign(reported.created_by, recipients=3, name=f"Ещё {number}")
    many = queries()

    assert len(many) == len(few)
    # No join of every recipient: the kept counts and the page's delivery rows.
    assert not any("mailer_campaignrecipient" in q["sql"] for q in many)


def test_the_export_lists_every_sent_recipient_with_formulas_neutralised(as_user, manager_a, reported):
    response = as_user(manager_a).get(report_url(reported, "csv/"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["E-mail", "Имя", "Отправлено", "Статус доставки"]
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("anna@example.ru", "Доставлено"),
        ("boris@example.ru", "Доставлено"),
        ("vera@example.ru", "Адрес не существует"),
        ("gleb@example.ru", "Временный отказ"),
    ]
    assert rows[1][1] == "'=HYPERLINK(1)"
    xlsx = as_user(manager_a).get(report_url(reported, "xlsx/"))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_dashboard_shows_a_failed_delivery_sync_with_the_last_good_time(as_user, superuser):
    transitions.record_delivery_sync(now=msk(2026, 11, 30, 9, 0), counts={})
    transitions.record_delivery_sync(now=msk(2026, 11, 30, 9, 15), error="API smtp.bz ответил 500")
    html = as_user(superuser).get("/admin/").content.decode()
    assert "Статусы доставки: 30.11.2026 09:00" in html
    assert "Статусы доставки не обновлены (30.11.2026 09:15): API smtp.bz ответил 500" in html
