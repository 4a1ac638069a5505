"""The delivery-status sync: smtp.bz's message log (the local stand-in) → per-recipient
statuses, bounces onto the suppression list, the sync state the dashboard shows."""

import logging
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailer import services, tasks, transitions
from mailer.delivery_models import DeliverySync, RecipientDelivery
from mailer.models import CampaignRecipient, GlobalMailAccount, Unsubscribe
from mailer.smtp_bz import delivery
from mailer.smtp_bz.delivery import sync_delivery_statuses
from mailer.smtp_bz.delivery_log import LogShapeError, campaign_tag, parse_log_page
from mailer.tasks import sync_delivery_statuses as sync_task
from tests.conftest import MSK, make_campaign, msk

pytestmark = pytest.mark.django_db
NOW = msk(2026, 11, 30, 12, 0)


@pytest.fixture
def api_key(db):
    GlobalMailAccount.objects.update_or_create(pk=1, defaults={"smtp_bz_api_key": "secret-key-123"})


@pytest.fixture
def sent(owner):
    """A campaign whose three recipients went out, with their Message-IDs stored."""
    campaign = make_campaign(owner, emails=["anna@example.ru", "boris@example.ru", "vera@example.ru"])
    for recipient in campaign.recipients.all():
        CampaignRecipient.objects.filter(pk=recipient.pk).update(
            status="sent", sent_at=msk(2026, 11, 30, 10, 0), smtp_message_id=f"<c{campaign.pk}.r{recipient.pk}@crm.ru>"
        )
    return campaign


def item(recipient, **fields):
    return {
        "id": f"p{recipient.pk}",
        "message_id": recipient.smtp_message_id,
        "to": recipient.email,
        "tag": campaign_tag(recipient.campaign_id),
        "date": "2026-11-30 10:05:00",
        **fields,
    }


def deliveries(campaign):
    return {
        d.recipient.email: (d.status, d.reason, d.opened_at)
        for d in RecipientDelivery.objects.filter(campaign=campaign).select_related("recipient")
    }


# --- reading the log (pure) -------------------------------------------------------------------


def parse(payload):
    return parse_log_page(payload, zone=MSK, fallback_at=NOW)


def test_an_answer_in_the_documented_shape():
    page = parse(
        {
            "data": [
                {"message_id": "<a@x>", "status": "delivered", "date": "2026-11-30 10:05:00", "is_open": 1},
                {"message_id": "b@x", "status": "bounce", "response": "550 5.1.1 User unknown"},
                {"message_id": "c@x", "status": "bounce", "response": "452 4.2.2 Mailbox full"},
                {"message_id": "d@x", "status": "failed", "bounce_type": "soft"},
                {"message_id": "e@x", "status": "queued"},
            ],
            "total": 5,
        }
    )
    assert [(e.message_id, e.status) for e in page.entries] == [
        ("a@x", "delivered"),
        ("b@x", "hard_bounce"),
        ("c@x", "soft_bounce"),
        ("d@x", "soft_bounce"),
    ]
    first = page.entries[0]
    assert first.status_at == msk(2026, 11, 30, 10, 5) and first.opened_at == first.status_at
    assert page.entries[1].reason == "550 5.1.1 User unknown" and page.entries[1].status_at == NOW
    assert (page.waiting, page.size, page.total, page.skipped) == (1, 5, 5, [])


def test_variants_of_the_shape_are_read_and_unreadable_items_are_reported_not_raised():
    page = parse(
        {
            "data": {
                "items": [
                    {"messageId": "a@x", "state": "sent", "opened_at": "2026-11-30T09:00:00Z"},
                    {"msgid": "b@x", "status": "exploded"},
                    {"status": "delivered"},
                    "junk",
                ],
                "count": "4",
            }
        }
    )
    assert [(e.message_id, e.status, e.opened_at) for e in page.entries] == [
        ("a@x", "delivered", datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    ]
    assert page.total == 4
    assert [reason for reason, _ in page.skipped] == [
        "unknown status",
        "no Message-ID and no address with our tag",
        "not an object",
    ]
    assert parse([{"message_id": "z@x", "status": "ok", "date": 1796025600}]).entries[0].status_at.year == 2026


@pytest.mark.parametrize("payload", [None, "text", {"error": "nope"}])
def test_an_answer_without_a_list_is_an_error_of_the_whole_page(payload):
    with pytest.raises(LogShapeError):
        parse(payload)


# --- the sync against the stand-in ------------------------------------------------------------


def test_the_task_records_bounces_and_opens_and_suppresses_hard_bounces(smtp_bz, api_key, sent, clock):
    anna, boris, vera = sent.recipients.order_by("email")
    smtp_bz.messages = [
        item(anna, status="delivered", is_open=1, open_date="2026-11-30 11:00:00"),
        item(boris, status="bounce", bounce_type="hard", response="550 5.1.1 User unknown"),
        item(vera, status="soft_bounce", response="452 4.2.2 Mailbox full"),
    ]
    sync_task.call_local()

    assert deliveries(sent) == {
        "anna@example.ru": ("delivered", "", msk(2026, 11, 30, 11, 0)),
        "boris@example.ru": ("hard_bounce", "550 5.1.1 User unknown", None),
        "vera@example.ru": ("soft_bounce", "452 4.2.2 Mailbox full", None),
    }
    assert list(Unsubscribe.objects.values_list("email", "source", "campaign")) == [
        ("boris@example.ru", "bounce", sent.pk)
    ]
    state = DeliverySync.load()
    assert (state.last_synced_at, state.error) == (msk(2026, 11, 30, 10, 0), "")
    assert state.counts["suppressed"] == 1
    query = smtp_bz.requests[-1]["path"]
    assert "from=2026-11-27" in query and "to=2026-11-30" in query and "limit=500" in query


def test_pages_are_walked_until_the_total(smtp_bz, api_key, sent, monkeypatch):
    monkeypatch.setattr("mailer.smtp_bz.delivery.PAGE_SIZE", 2)
    smtp_bz.messages = [item(r, status="delivered") for r in sent.recipients.all()]
    counts = sync_delivery_statuses(now=NOW)
    assert (counts.seen, counts.recorded) == (3, 3)
    assert len([r for r in smtp_bz.requests if "/log/message" in r["path"]]) == 2


def test_an_api_error_keeps_the_last_statuses_and_the_time_of_the_last_good_sync(smtp_bz, api_key, sent):
    anna = sent.recipients.get(email="anna@example.ru")
    smtp_bz.messages = [item(anna, status="delivered")]
    sync_delivery_statuses(now=msk(2026, 11, 30, 11, 0))

    smtp_bz.status = 500
    assert sync_delivery_statuses(now=NOW) is None
    state = DeliverySync.load()
    assert (state.last_synced_at, state.error_at) == (msk(2026, 11, 30, 11, 0), NOW)
    assert state.error == "API smtp.bz ответил 500"
    assert deliveries(sent)["anna@example.ru"][0] == "delivered"


def test_nothing_is_asked_without_an_api_key(smtp_bz, sent):
    assert sync_delivery_statuses(now=NOW) is None
    assert smtp_bz.requests == [] and not DeliverySync.objects.exists()


def test_unreadable_items_are_logged_without_addresses(smtp_bz, api_key, sent, caplog):
    anna = sent.recipients.get(email="anna@example.ru")
    smtp_bz.messages = [
        {"to": "secret.person@example.ru", "status": "delivered"},
        item(anna, status="teleported"),
        {"message_id": "<unknown@elsewhere>", "status": "delivered"},
    ]
    with caplog.at_level(logging.INFO, logger="mailer"):
        counts = sync_delivery_statuses(now=NOW)
    assert (counts.unreadable, counts.unmatched, counts.recorded) == (2, 1, 0)
    warnings = [r for r in caplog.records if r.getMessage() == "smtp.bz log item not understood"]
    assert [r.reason for r in warnings] == ["no Message-ID and no address with our tag", "unknown status"]
    assert "message_id" in warnings[1].item_keys
    assert not any("secret.person" in str(r.__dict__) or "anna@" in str(r.__dict__) for r in caplog.records)


def test_an_item_without_message_id_is_matched_by_our_tag_and_the_address(smtp_bz, api_key, sent):
    vera = sent.recipients.get(email="vera@example.ru")
    smtp_bz.messages = [{**item(vera, status="delivered"), "message_id": ""}]
    sync_delivery_statuses(now=NOW)
    assert deliveries(sent) == {"vera@example.ru": ("delivered", "", None)}


def test_items_matched_by_tag_cost_one_query_a_page_not_one_each(smtp_bz, api_key, sent):
    items = [{**item(r, status="delivered"), "message_id": ""} for r in sent.recipients.order_by("pk")]
    entries = parse_log_page({"data": items}, zone=MSK, fallback_at=NOW).entries

    with CaptureQueriesContext(connection) as captured:
        matched = delivery._match(entries)

    assert sorted(r.email for r in matched.values()) == ["anna@example.ru", "boris@example.ru", "vera@example.ru"]
    assert len(captured.captured_queries) == 1


# --- the transition: a hard bounce is final, the first open stays ------------------------------


def test_a_hard_bounce_is_final_and_the_first_open_is_kept(sent):
    anna = sent.recipients.get(email="anna@example.ru")
    record = dict(recipient_id=anna.pk, campaign_id=sent.pk, now=NOW)
    first_open = msk(2026, 11, 30, 10, 30)
    assert transitions.record_delivery(
        **record, status="delivered", status_at=msk(2026, 11, 30, 10, 5), opened_at=first_open
    )
    assert not transitions.record_delivery(
        **record, status="delivered", status_at=msk(2026, 11, 30, 10, 5), opened_at=msk(2026, 11, 30, 11, 0)
    )
    assert transitions.record_delivery(**record, status="hard_bounce", status_at=NOW, reason="550 gone")
    assert not transitions.record_delivery(**record, status="delivered", status_at=msk(2026, 12, 1, 10, 0))
    assert deliveries(sent)["anna@example.ru"] == ("hard_bounce", "550 gone", first_open)


WEIRD_VALUES = [None, True, 0, -1, 10**30, 1.5, "", " ", "2026-13-45", "<>", [], {}, {"a": 1}, ["x"], "é@"]


@pytest.mark.parametrize("weird", WEIRD_VALUES)
def test_no_value_in_any_field_makes_the_parser_raise(weird):
    fields = ("message_id", "to", "tag", "status", "date", "is_open", "open_date", "response", "bounce_type", "id")
    for name in fields:
        base = {"message_id": "<a@x>", "to": "a@example.ru", "status": "bounce", "date": "2026-11-30 10:00:00"}
        parse({"data": [{**base, name: weird}], "total": weird})


def test_sent_messages_carry_the_message_id_the_sync_matches_and_the_campaign_tag(
    inbox, clock, owner, smtp_bz, api_key
):
    campaign = make_campaign(owner, emails=["anna@example.ru"])
    services.campaign_start(campaign=campaign, user=owner)
    tasks.send_pending_emails.call_local()
    message = inbox.received[0].message
    assert message["X-Tag"] == campaign_tag(campaign.pk)
    assert campaign.recipients.get().smtp_message_id == message["Message-ID"]
    assert campaign.send_logs.get().smtp_message_id == message["Message-ID"]

    smtp_bz.messages = [{"message_id": message["Message-ID"].strip("<>"), "status": "delivered", "date": "2026-11-30"}]
    sync_delivery_statuses(now=NOW)
    assert deliveries(campaign) == {"anna@example.ru": ("delivered", "", None)}


def test_a_second_pass_writes_nothing_and_a_removed_bounce_stays_removed(
    smtp_bz, api_key, sent, django_assert_max_num_queries
):
    boris = sent.recipients.get(email="boris@example.ru")
    smtp_bz.messages = [item(r, status="delivered") for r in sent.recipients.exclude(pk=boris.pk)]
    smtp_bz.messages.append(item(boris, status="bounce", response="550 no such user"))
    assert sync_delivery_statuses(now=NOW).recorded == 3
    Unsubscribe.objects.filter(email="boris@example.ru").delete()  # staff decided to write again

    with django_assert_max_num_queries(8):
        again = sync_delivery_statuses(now=NOW)
    assert (again.recorded, again.suppressed, again.by_status) == (0, 0, {"delivered": 2, "hard_bounce": 1})
    assert not Unsubscribe.objects.exists()


# --- hostile answers: the sync records an error or skips the item, it never raises ----------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [], "total": Infinity}',  # JSON as Python reads it: a float no int can hold
        b'{"data": [], "total": -Infinity}',
        b'{"data": [{"to": "anna@example.ru", "tag": "crm-campaign-\\u00b2", "status": "delivered"}]}',
        b'{"data": [{"to": "anna@example.ru", "tag": "crm-campaign-99999999999999999999", "status": "delivered"}]}',
        b'{"data": [{"to": "anna@example.ru", "tag": "crm-campaign-' + b"9" * 5000 + b'", "status": "delivered"}]}',
    ],
)
def test_a_hostile_log_answer_does_not_crash_the_sync(smtp_bz, api_key, sent, body):
    smtp_bz.log_body = body
    counts = sync_delivery_statuses(now=NOW)
    assert counts is None or counts.recorded == 0
    assert not RecipientDelivery.objects.exists()


def test_a_hostile_unsubscribe_total_does_not_crash_the_list_sync(smtp_bz, api_key, settings):
    from mailer.smtp_bz.suppression import sync_provider_suppression

    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC = True
    smtp_bz.unsubscribe_body = b'{"data": [{"address": "gone@example.ru"}], "total": Infinity}'
    assert sync_provider_suppression().error == ""
    assert Unsubscribe.objects.filter(email="gone@example.ru").exists()


def test_an_answer_keyed_by_address_is_reported_without_the_address(smtp_bz, api_key, sent, caplog):
    smtp_bz.log_body = {"data": {"secret.person@example.ru": {"status": "delivered"}}}
    with caplog.at_level(logging.INFO, logger="mailer"):
        assert sync_delivery_statuses(now=NOW) is None
    assert "secret.person" not in DeliverySync.load().error
    assert not any("secret.person" in str(r.__dict__) for r in caplog.records)


def test_times_outside_sending_and_now_are_kept_between_them_and_the_report_opens(smtp_bz, api_key, sent, client):
    """A provider's year 1, its 1970 (a Unix 1) or its future: no event precedes the send or
    follows the sync. Unbounded, such a time once drew a chart of 740 000 days."""
    anna, boris, vera = sent.recipients.order_by("email")
    smtp_bz.log_body = {
        "data": [
            item(anna, status="delivered", date="0001-01-01 00:00:00", is_open=1, open_date="2999-01-01 00:00:00"),
            item(boris, status="bounce", response="550 no such user", date=1),
            item(vera, status="delivered", date="2999-12-31T23:59:59-12:00"),
        ]
    }
    assert sync_delivery_statuses(now=NOW).recorded == 3
    sent_at = msk(2026, 11, 30, 10, 0)
    times = {
        d.recipient.email: (d.status_at, d.opened_at) for d in RecipientDelivery.objects.select_related("recipient")
    }
    assert times == {
        "anna@example.ru": (sent_at, NOW),
        "boris@example.ru": (sent_at, None),
        "vera@example.ru": (NOW, None),
    }
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("boss", "boss@crm.example", "pass"))
    page = client.get(f"/admin/mailer/campaignreport/{sent.pk}/report/")
    assert page.status_code == 200 and len(page.context["report"].chart["labels"]) == 3  # 10:00 … 12:00


@pytest.mark.parametrize(
    ("body", "limit", "error"),
    [
        (b"[" * 100_000, 1_000_000, "API smtp.bz вернул не JSON"),
        (
            b'{"data": [], "pad": "' + b"x" * 5_000 + b'"}',
            4_096,
            "API smtp.bz вернул слишком большой ответ (больше 4 КБ)",
        ),
    ],
    ids=["nested too deep", "too large"],
)
def test_an_answer_too_deep_or_too_large_is_an_api_error(smtp_bz, api_key, sent, monkeypatch, body, limit, error):
    monkeypatch.setattr("mailer.smtp_bz.api.MAX_ANSWER_BYTES", limit)
    smtp_bz.log_body = body
    assert sync_delivery_statuses(now=NOW) is None
    assert DeliverySync.load().error == error
