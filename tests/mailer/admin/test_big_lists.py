"""The admin at scale, proved on small data: each page's queries do not grow with its rows,
big lists never COUNT(*) their table past a few thousand rows, and the indexed search still
finds what staff typed before (issue 11; the figures come from bench/admin_scale.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.admin_mixins import EstimatedCountPaginator
from backoffice.models import Company, Contact
from mailer.models import CampaignQueue, CampaignRecipient, SendLog
from tests.conftest import make_campaign, msk

LISTS = [
    "admin:mailer_campaign_changelist",
    "admin:mailer_campaignqueue_changelist",
    "admin:mailer_campaignrecipient_changelist",
    "admin:mailer_sendlog_changelist",
    "admin:mailer_unsubscribe_changelist",
    "admin:backoffice_contact_changelist",
    "admin:backoffice_notification_changelist",
]


def grow(owner, campaigns):
    """More campaigns, recipients, log rows, companies and contacts."""
    for i in range(campaigns):
        campaign = make_campaign(owner, recipients=20, name=f"Рассылка {i}")
        CampaignQueue.objects.create(campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0))
        SendLog.objects.bulk_create(
            SendLog(campaign=campaign, recipient=r, email=r.email, status="sent") for r in campaign.recipients.all()
        )
    company = Company.objects.create(name=f"Компания {campaigns}")
    Contact.objects.bulk_create(Contact(company=company, full_name=f"Контакт {i}") for i in range(10))


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", LISTS)
def test_list_queries_do_not_grow_with_rows(as_user, manager_a, superuser, page, clock):
    url = reverse(page)
    for user in (superuser, manager_a):
        client = as_user(user)
        grow(manager_a, 1)
        client.get(url)  # warm
        few = queries(client, url)
        grow(manager_a, 4)
        assert queries(client, url) == few <= 12


def test_campaign_page_and_poll_queries_do_not_grow(
    as_user, manager_a, mail_account, clock, django_assert_max_num_queries
):
    from mailer import services

    campaign = make_campaign(manager_a, recipients=3)
    services.campaign_start(campaign=campaign, user=manager_a)
    client = as_user(manager_a)
    page = reverse("admin:mailer_campaign_change", args=[campaign.pk])
    poll = reverse("mailer_poll") + f"?campaign={campaign.pk}"
    client.get(page), client.get(poll)
    # The poll: session, user, permissions (2), then its own five — the waiting queues, the
    # counts, the quota, today's sends, the account.
    with django_assert_max_num_queries(9):
        assert client.get(poll).status_code == 200
    before = queries(client, page)
    CampaignRecipient.objects.bulk_create(
        CampaignRecipient(campaign=campaign, email=f"more{i}@example.com") for i in range(200)
    )
    with django_assert_max_num_queries(9):
        assert client.get(poll).json()["campaign"]["total"] == 203
    assert queries(client, page) == before


def test_a_big_list_takes_the_planners_estimate_instead_of_counting(as_user, superuser, manager_a, monkeypatch, clock):
    grow(manager_a, 2)
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_UP_TO", 5)
    client = as_user(superuser)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("admin:mailer_campaignrecipient_changelist")).status_code == 200
    sql = [q["sql"] for q in captured.captured_queries]
    assert any(s.startswith("EXPLAIN") for s in sql)
    assert not any(s.startswith("SELECT COUNT(*)") and "mailer_campaignrecipient" in s for s in sql)


# --- search --------------------------------------------------------------------------------


def found(client, page, term):
    response = client.get(reverse(page), {"q": term})
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


def test_recipient_search_finds_by_whole_or_part_of_address_name_and_campaign(as_user, manager_a, manager_b):
    mine = make_campaign(manager_a, emails=["ivanov@firm.ru", "petrov@shop.ru"], name="Осень")
    make_campaign(manager_b, emails=["ivanov@firm.ru"], name="Зима")
    CampaignRecipient.objects.filter(campaign=mine, email="petrov@shop.ru").update(name="Пётр Сидоров")
    client = as_user(manager_a)
    page = "admin:mailer_campaignrecipient_changelist"
    assert found(client, page, "ivanov@firm.ru") == {"ivanov@firm.ru"}  # only the manager's own row
    assert found(client, page, "IVANOV@FIRM.RU") == {"ivanov@firm.ru"}
    assert found(client, page, "ivan") == {"ivanov@firm.ru"}
    # A whole address is that address (its index), not every address that contains it: the
    # search's help text says so; a part of it still finds by substring.
    assert found(client, page, "vanov@firm.ru") == set()
    assert found(client, page, "vanov@firm") == {"ivanov@firm.ru"}
    assert found(client, page, "shop.ru") == {"petrov@shop.ru"}
    assert found(client, page, "сидоров") == {"petrov@shop.ru"}
    assert found(client, page, "осень") == {"ivanov@firm.ru", "petrov@shop.ru"}
    assert found(client, page, "осень petrov") == {"petrov@shop.ru"}  # words are ANDed
    assert found(client, page, "Зима") == set()
    assert "Адрес e-mail целиком — точно этот адрес" in client.get(reverse(page)).content.decode()


def test_sendlog_search_by_address_part_or_whole_message_id(as_user, superuser, manager_a):
    campaign = make_campaign(manager_a, emails=["ivanov@firm.ru", "petrov@shop.ru"])
    for recipient in campaign.recipients.all():
        SendLog.objects.create(
            campaign=campaign,
            recipient=recipient,
            email=recipient.email,
            status="sent",
            smtp_message_id=f"<{recipient.email.split('@')[0]}.1@crm.example>",
        )
    client = as_user(superuser)
    page = "admin:mailer_sendlog_changelist"
    emails = lambda term: {log.email for log in client.get(reverse(page), {"q": term}).context["cl"].result_list}  # noqa: E731
    assert emails("ivanov@firm.ru") == {"ivanov@firm.ru"}
    assert emails("firm") == {"ivanov@firm.ru"}
    assert emails("<petrov.1@crm.example>") == emails("petrov.1@crm.example") == {"petrov@shop.ru"}
    assert emails("Осенняя") == {"ivanov@firm.ru", "petrov@shop.ru"}
    assert "Message-ID — только целиком" in client.get(reverse(page)).content.decode()


def test_sendlog_filters_by_a_range_of_whole_days(as_user, superuser, manager_a, clock):
    campaign = make_campaign(manager_a, emails=["a@firm.ru"])
    SendLog.objects.create(campaign=campaign, email="a@firm.ru", status="sent")  # 30.11.2026 10:00 MSK
    client = as_user(superuser)
    url = reverse("admin:mailer_sendlog_changelist")

    def shown(first, last):
        return client.get(url, {"created_at_from": first, "created_at_to": last}).context["cl"].result_count

    assert shown("30.11.2026", "30.11.2026") == 1  # the last day counts whole
    assert shown("01.12.2026", "") == shown("", "29.11.2026") == 0


def test_a_big_lists_rows_keep_their_own_checkbox(as_user, superuser, manager_a):
    campaign = make_campaign(manager_a, recipients=2)
    page = as_user(superuser).get(reverse("admin:mailer_campaignrecipient_changelist")).content.decode()
    for recipient in campaign.recipients.all():
        assert f'name="_selected_action" value="{recipient.pk}"' in page
    assert 'aria-label="Выберите запись"' in page
