"""Syncing with smtp.bz's own suppression list, against a local stand-in for its API."""

import logging
from datetime import datetime

import pytest

from mailer.models import CampaignRecipient, GlobalMailAccount, Unsubscribe
from mailer.smtp_bz import suppression as provider_suppression
from mailer.smtp_bz.suppression import ProviderListError, ProviderPage, parse_unsubscribe_page
from mailer.suppression import suppress
from mailer.tasks import sync_smtp_bz_unsubscribes
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key(db):
    GlobalMailAccount.objects.update_or_create(pk=1, defaults={"smtp_bz_api_key": "secret-key-123"})


@pytest.fixture
def sync_on(settings, smtp_bz, api_key):
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC = True
    return smtp_bz


def gets(fake):
    return [r["path"] for r in fake.requests if r["method"] == "GET"]


def posted_addresses(fake):
    return [r["form"]["address"][0] for r in fake.requests if r["method"] == "POST"]


# --- parsing the answer (one small function) -------------------------------------------------


@pytest.mark.parametrize(
    "payload, page",
    [
        (  # as seen in the wild
            {"data": [{"address": "Ivan@Example.RU ", "reason": "unsubscribe"}], "total": 1},
            ProviderPage(addresses=["ivan@example.ru"], size=1, total=1),
        ),
        (
            ["a@example.ru", "B@example.ru"],
            ProviderPage(addresses=["a@example.ru", "b@example.ru"], size=2, total=None),
        ),
        (
            {"data": {"items": [{"email": "a@example.ru"}, {"mail": "b@example.ru"}], "total": "7"}},
            ProviderPage(addresses=["a@example.ru", "b@example.ru"], size=2, total=7),
        ),
        (  # unreadable items are left out, yet still move the offset
            {"data": [{"id": 5}, None, 42, {"address": None}, {"address": "c@example.ru"}], "total": True},
            ProviderPage(addresses=["c@example.ru"], size=5, total=None),
        ),
        ({"items": [], "total": 0}, ProviderPage(addresses=[], size=0, total=0)),
    ],
)
def test_parse_unsubscribe_page(payload, page):
    assert parse_unsubscribe_page(payload) == page


@pytest.mark.parametrize("payload", [None, "ok", 42, {"error": "unauthorized"}, {"data": "none"}])
def test_parse_unsubscribe_page_refuses_what_it_cannot_read(payload):
    with pytest.raises(ProviderListError):
        parse_unsubscribe_page(payload)


def test_an_answer_keyed_by_address_is_refused_without_naming_anyone():
    # The error is what the sync records and staff see: no full address in it.
    with pytest.raises(ProviderListError) as error:
        parse_unsubscribe_page({"ivan.petrov@example.ru": {"reason": "spam"}})
    assert "ivan.petrov@example.ru" not in str(error.value) and "example.ru" in str(error.value)


# --- the sync ------------------------------------------------------------------------------------


def test_off_by_default_it_asks_nothing(smtp_bz, api_key):
    smtp_bz.unsubscribed = [{"address": "a@example.ru"}]
    assert sync_smtp_bz_unsubscribes.call_local() is None
    assert smtp_bz.requests == [] and not Unsubscribe.objects.exists()


def test_without_an_api_key_nothing_is_fetched(settings, smtp_bz):
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC = True
    assert sync_smtp_bz_unsubscribes.call_local() is None
    assert smtp_bz.requests == []


def test_provider_addresses_are_imported_normalised_and_mark_waiting_recipients(sync_on, owner):
    suppress("ivan@example.ru", source=Unsubscribe.Source.LINK)
    campaign = make_campaign(owner, emails=["olga@example.org", "petr@example.net"])
    sync_on.unsubscribed = [
        {"address": " Olga@Example.ORG", "reason": "unsubscribe"},
        {"address": "IVAN@example.ru"},  # ours already: kept as it is
        {"address": "not-an-email"},
    ]

    result = sync_smtp_bz_unsubscribes.call_local()

    assert (result.provider_total, result.imported, result.invalid, result.pushed) == (3, 1, 1, 0)
    olga = Unsubscribe.objects.get(email="olga@example.org")
    assert (olga.source, olga.created_by) == (Unsubscribe.Source.PROVIDER, None)
    assert Unsubscribe.objects.get(email="ivan@example.ru").source == Unsubscribe.Source.LINK
    assert campaign.recipients.get(email="olga@example.org").status == CampaignRecipient.Status.UNSUBSCRIBED
    assert campaign.recipients.get(email="petr@example.net").status == CampaignRecipient.Status.PENDING
    [request] = sync_on.requests
    assert request["path"] == "/v1/unsubscribe?limit=500&offset=0"
    assert request["headers"]["Authorization"] == "secret-key-123"
    assert posted_addresses(sync_on) == []  # pushing is a separate switch


def test_the_list_is_read_page_by_page(sync_on, monkeypatch):
    monkeypatch.setattr(provider_suppression, "PAGE_SIZE", 2)
    sync_on.unsubscribed = [{"address": f"user{i}@example.ru"} for i in range(5)]

    assert sync_smtp_bz_unsubscribes.call_local().imported == 5
    assert gets(sync_on) == [f"/v1/unsubscribe?limit=2&offset={offset}" for offset in (0, 2, 4)]


def test_an_api_that_ignores_offset_does_not_loop(sync_on):
    sync_on.unsubscribe_body = {"data": [{"address": "a@example.ru"}], "total": 1000}

    assert sync_smtp_bz_unsubscribes.call_local().imported == 1
    assert len(gets(sync_on)) == 2  # the second page brought nothing new


def test_push_sends_ours_the_provider_lacks_once(sync_on, settings):
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH = True
    suppress("ivan@example.ru", source=Unsubscribe.Source.ONE_CLICK)
    suppress("olga@example.org", source=Unsubscribe.Source.MANUAL)
    suppress("known@example.ru", source=Unsubscribe.Source.BOUNCE)
    sync_on.unsubscribed = [{"address": "known@example.ru"}, {"address": "theirs@example.ru"}]

    first = sync_smtp_bz_unsubscribes.call_local()
    second = sync_smtp_bz_unsubscribes.call_local()

    assert (first.imported, first.pushed) == (1, 2)
    assert posted_addresses(sync_on) == ["ivan@example.ru", "olga@example.org"]  # theirs never goes back
    assert [r["path"] for r in sync_on.requests if r["method"] == "POST"] == ["/v1/unsubscribe/add"] * 2
    assert (second.imported, second.pushed) == (0, 0)


def test_a_refused_push_stops_the_run_and_logs_a_masked_address(sync_on, settings, caplog):
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH = True
    sync_on.post_status = 500
    suppress("ivan@example.ru", source=Unsubscribe.Source.LINK)
    suppress("olga@example.org", source=Unsubscribe.Source.LINK)

    with caplog.at_level(logging.ERROR, logger="mailer"):
        result = sync_smtp_bz_unsubscribes.call_local()

    assert result.pushed == 0 and len(posted_addresses(sync_on)) == 1
    [record] = [r for r in caplog.records if r.getMessage() == "smtp.bz refused an unsubscribe"]
    assert (record.email_masked, record.error) == ("i***n@example.ru", "API smtp.bz ответил 500")
    assert "ivan@example.ru" not in record.getMessage()


@pytest.mark.parametrize(
    "status, body, error",
    [
        (503, {}, "API smtp.bz ответил 503"),
        (200, b"<html>maintenance</html>", "API smtp.bz вернул не JSON"),
        (200, {"error": "bad key"}, "no list in the answer (keys: error)"),
    ],
)
def test_a_failed_fetch_changes_nothing_and_is_logged(sync_on, caplog, status, body, error):
    sync_on.status, sync_on.unsubscribe_body = status, body
    with caplog.at_level(logging.ERROR, logger="mailer"):
        result = sync_smtp_bz_unsubscribes.call_local()
    assert result.error == error
    assert not Unsubscribe.objects.exists()
    assert any(r.getMessage() == "smtp.bz suppression list sync failed" for r in caplog.records)


def test_the_task_runs_hourly_at_twenty_past():
    task = sync_smtp_bz_unsubscribes.task_class()
    assert [m for m in range(60) if task.validate_datetime(datetime(2026, 11, 30, 10, m))] == [20]
