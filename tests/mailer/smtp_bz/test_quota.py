"""Syncing the smtp.bz quota against a local stand-in for its API (checklist 3, 15.2)."""

import pytest

from mailer.models import CampaignQueue, GlobalMailAccount, SmtpBzQuota
from mailer.smtp_bz import quota
from mailer.tasks import sync_smtp_bz_quota
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key(db):
    GlobalMailAccount.objects.update_or_create(pk=1, defaults={"smtp_bz_api_key": "secret-key-123"})


def test_sync_stores_the_remaining_monthly_emails(clock, smtp_bz, api_key):
    sync_smtp_bz_quota.call_local()

    row = SmtpBzQuota.current()
    assert (row.emails_available, row.emails_limit) == (14794, 15000)
    assert row.last_synced_at == msk(2026, 11, 30, 10, 0)
    assert row.sync_error == ""
    assert row.raw_payload["tarif"] == "free"
    [request] = smtp_bz.requests
    assert request["path"] == "/v1/user"
    assert request["headers"]["Authorization"] == "secret-key-123"


def test_a_failed_sync_records_the_error_and_keeps_the_last_good_figures(clock, smtp_bz, api_key):
    sync_smtp_bz_quota.call_local()
    clock.move_to(msk(2026, 11, 30, 11, 0))
    smtp_bz.status = 503

    sync_smtp_bz_quota.call_local()

    row = SmtpBzQuota.current()
    assert row.sync_error == "API smtp.bz ответил 503"
    assert (row.emails_available, row.last_synced_at) == (14794, msk(2026, 11, 30, 10, 0))
    assert SmtpBzQuota.objects.count() == 1


def test_a_payload_without_quota_is_an_error_not_a_zero(clock, smtp_bz, api_key):
    smtp_bz.body = {"tarif": "free"}
    sync_smtp_bz_quota.call_local()
    row = SmtpBzQuota.current()
    assert "нет остатка квоты" in row.sync_error
    assert row.last_synced_at is None


def test_non_json_answer_is_an_error(clock, smtp_bz, api_key):
    smtp_bz.body = b"<html>maintenance</html>"
    sync_smtp_bz_quota.call_local()
    assert SmtpBzQuota.current().sync_error == "API smtp.bz вернул не JSON"


def test_unreachable_api_is_an_error(clock, settings, api_key):
    from tests.conftest import free_port

    settings.MAILER_SMTP_BZ_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    sync_smtp_bz_quota.call_local()
    assert SmtpBzQuota.current().sync_error.startswith("API smtp.bz недоступен")


def test_sync_lets_quota_deferred_campaigns_go_on(clock, smtp_bz, api_key, owner):
    campaign = make_campaign(owner, recipients=1)
    queue = CampaignQueue.objects.create(
        campaign=campaign,
        queued_at=msk(2026, 11, 30, 9, 0),
        defer_reason="quota_exhausted",
        deferred_until=msk(2026, 11, 30, 11, 0),
    )
    sync_smtp_bz_quota.call_local()
    queue.refresh_from_db()
    assert queue.deferred_until == msk(2026, 11, 30, 10, 0)


def test_without_an_api_key_nothing_is_fetched(clock, smtp_bz):
    sync_smtp_bz_quota.call_local()
    assert smtp_bz.requests == []
    assert SmtpBzQuota.current() is None


@pytest.mark.parametrize(
    ("payload", "figures"),
    [
        ({"quota": 14794, "tarif_quota": 15000}, (15000, 14794)),
        ({"quota": "120", "tarif_quota": "15000"}, (15000, 120)),
        ({"quota": {"available": 7, "limit": 10}}, (10, 7)),
        ({"quota": {"remaining": 0, "total": 10}}, (10, 0)),
        ({"quota": 5}, (0, 5)),
    ],
)
def test_parse_user_payload(payload, figures):
    parsed = quota.parse_user_payload(payload)
    assert (parsed.emails_limit, parsed.emails_available) == figures


@pytest.mark.parametrize(
    "payload",
    [[], {"quota": None}, {"quota": True}, {"balance": 3}, {"quota": float("inf")}],  # JSON's Infinity
)
def test_parse_user_payload_refuses_what_it_cannot_read(payload):
    with pytest.raises(quota.QuotaSyncError):
        quota.parse_user_payload(payload)


def test_an_answer_keyed_by_address_is_refused_without_naming_anyone():
    with pytest.raises(quota.QuotaSyncError) as error:
        quota.parse_user_payload({"ivan.petrov@example.ru": 3})
    assert "ivan.petrov@example.ru" not in str(error.value) and "example.ru" in str(error.value)
