"""After sending (issue 13's «Done when»): a campaign goes through the sender to the SMTP test
server; the smtp.bz stand-in's log reports one bounce and two opens for those very messages;
the periodic task records them; the bounced address is suppressed and skipped by the next
campaign; the report page shows the numbers in headless Chromium (screenshot in
test-output/screenshots/20-delivery-report.png)."""

import pytest
from django.contrib.auth.models import Group, User

from backoffice.permissions import MANAGER_GROUP
from mailer import services, tasks
from mailer.delivery_models import RecipientDelivery
from mailer.models import GlobalMailAccount, Unsubscribe
from tests.browser.conftest import shot
from tests.conftest import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
EMAILS = ["anna@example.ru", "boris@example.ru", "vera@example.ru", "gleb@example.ru"]


def log_item(received, **fields):
    """What smtp.bz's log says of a message it relayed: its headers as they came over SMTP."""
    return {
        "id": f"log-{received.to}",
        "message_id": received.message["Message-ID"],
        "to": received.to,
        "tag": received.message["X-Tag"],
        "date": "2026-11-30 10:01:00",
        "status": "delivered",
        **fields,
    }


def test_bounces_and_opens_reach_the_report_and_the_next_campaign_skips_the_bounce(
    live_server, browser_page, inbox, clock, smtp_bz
):
    GlobalMailAccount.objects.filter(pk=1).update(smtp_bz_api_key="secret-key-123")
    manager = User.objects.create_user("olga", "olga@crm.example", "Secret-pass-1", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER_GROUP))

    # 1. Through the sender to the SMTP server: each message carries its Message-ID and tag.
    first = make_campaign(manager, emails=EMAILS, name="Декабрьская рассылка")
    services.campaign_start(campaign=first, user=manager)
    tasks.send_pending_emails.call_local()
    received = {r.to: r for r in inbox.received}
    assert sorted(received) == sorted(EMAILS)
    stored = dict(first.recipients.values_list("email", "smtp_message_id"))
    assert {to: r.message["Message-ID"] for to, r in received.items()} == stored
    assert {r.message["X-Tag"] for r in received.values()} == {f"crm-campaign-{first.pk}"}

    # 2. The provider's log: one hard bounce, two opens, one just delivered.
    smtp_bz.messages = [
        log_item(received["anna@example.ru"], is_open=1, open_date="2026-11-30 10:20:00"),
        log_item(received["boris@example.ru"], status="bounce", response="550 5.1.1 <boris@example.ru>: User unknown"),
        log_item(received["vera@example.ru"], is_open=1, open_date="2026-11-30 11:40:00"),
        log_item(received["gleb@example.ru"]),
    ]
    clock.move_to("2026-11-30T12:00:00+03:00")
    tasks.sync_delivery_statuses.call_local()

    statuses = dict(RecipientDelivery.objects.values_list("recipient__email", "status"))
    assert statuses == {
        "anna@example.ru": "delivered",
        "boris@example.ru": "hard_bounce",
        "vera@example.ru": "delivered",
        "gleb@example.ru": "delivered",
    }
    assert RecipientDelivery.objects.filter(opened_at__isnull=False).count() == 2
    assert list(Unsubscribe.objects.values_list("email", "source")) == [("boris@example.ru", "bounce")]

    # 3. The next campaign skips the bounced address.
    inbox.reset()
    second = make_campaign(manager, emails=["boris@example.ru", "dina@example.ru"], name="Следующая")
    services.campaign_start(campaign=second, user=manager)
    tasks.send_pending_emails.call_local()
    assert inbox.addresses() == ["dina@example.ru"]
    assert second.recipients.get(email="boris@example.ru").status == "unsubscribed"

    # 4. The report, as the manager sees it in Chromium.
    page = browser_page
    page.goto(live_server.url + "/admin/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "Secret-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")
    page.goto(live_server.url + f"/admin/mailer/campaignreport/{first.pk}/report/")
    page.wait_for_selector("#campaign-report")
    page.wait_for_timeout(800)  # the chart's animation
    shot(page, "20-delivery-report")
    figures = {key: page.inner_text(f"#report-{key}") for key in ("sent", "delivered", "bounced", "opened")}
    assert figures == {"sent": "4", "delivered": "3", "bounced": "1", "opened": "2"}
    assert page.inner_text("#report-delivered-rate") == "75,0 % от отправленных"
    assert page.inner_text("#report-opened-rate") == "66,7 % от доставленных"
    assert "User unknown" in page.inner_text("#report-bounces")
    assert page.locator("canvas.chart").count() == 1

    page.goto(live_server.url + "/admin/mailer/campaignreport/")
    page.wait_for_selector("text=Открыть отчёт")
    shot(page, "21-reports-list")
