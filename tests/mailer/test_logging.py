"""PII-safe, structured logs (checklist 10, 14), from every logger (issue 8)."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from mailer import services
from mailer.engine import sender
from mailer.pii import (
    KeyValueFormatter,
    RedactEmailsFilter,
    email_hash,
    extra_fields,
    mask_email,
    mask_query_values,
    redact,
)
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

STRUCTURED_FIELDS = {
    "campaign_id",
    "queue_id",
    "recipient_id",
    "email_domain",
    "email_masked",
    "email_hash",
    "smtp_message_id",
    "provider",
    "took_ms",
    "rate_limit_count",
}
ADDRESSES = ["ivan.petrov@example.com", "gone.user@example.com", "olga@example.org"]


def _all_text(record):
    return " ".join([record.getMessage(), *(str(v) for v in extra_fields(record).values())])


def test_no_full_address_in_any_log_record_and_sent_records_are_structured(clock, inbox, owner, caplog):
    inbox.refuse["gone.user@example.com"] = "550 5.1.1 <gone.user@example.com>: Recipient unknown"
    campaign = make_campaign(owner, emails=ADDRESSES)
    services.campaign_start(campaign=campaign, user=owner)
    with caplog.at_level(logging.DEBUG):
        sender.run_sender_pass()
        services.send_test_email(campaign=campaign, user=owner, to="tester@example.net")

    mailer_records = [r for r in caplog.records if r.name.startswith("mailer")]
    for record in mailer_records:
        text = _all_text(record)
        for address in [*ADDRESSES, "tester@example.net"]:
            assert address not in text, (record.getMessage(), address)

    sent = [r for r in mailer_records if r.getMessage() == "Email sent successfully"]
    assert len(sent) == 2
    assert all(set(extra_fields(r)) >= STRUCTURED_FIELDS for r in sent)
    assert sent[0].email_masked == "i***v@example.com" and sent[0].email_domain == "example.com"

    [failed] = [r for r in mailer_records if r.getMessage() == "Email send failed"]
    assert failed.levelno == logging.ERROR
    assert failed.email_masked == "g***r@example.com"
    assert "g***r@example.com" in failed.error  # the server's text, masked


def test_redaction_filter_masks_addresses_anywhere_in_a_record():
    record = logging.LogRecord("mailer", logging.ERROR, __file__, 1, "boom for %s", ("ivan@example.com",), None)
    record.error = "550 <olga@example.org> unknown"
    record.smtp_message_id = "<1.2@example.ru>"
    RedactEmailsFilter().filter(record)
    assert record.getMessage() == "boom for i***n@example.com"
    assert record.error == "550 <o***a@example.org> unknown"
    assert record.smtp_message_id == "<1.2@example.ru>"


def test_text_format_shows_extras_as_key_value():
    record = logging.makeLogRecord(
        {
            "name": "mailer",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "Campaign finished",
            "finished_with_errors": True,
            "campaign_id": 7,
        }
    )
    line = KeyValueFormatter().format(record)
    assert line.endswith("Campaign finished finished_with_errors=true campaign_id=7")


def test_json_logs_with_debug_off_carry_every_extra_field():
    """Runs a fresh process with production settings, as a worker would start."""
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('mailer.engine.sender').info('Email sent successfully', extra={"
        "'campaign_id': 1, 'queue_id': 2, 'recipient_id': 3, 'email_domain': 'example.com', "
        "'email_masked': 'i***n@example.com', 'email_hash': 'abc', 'smtp_message_id': '<m@x>', "
        "'provider': 'smtp.bz', 'took_ms': 5, 'rate_limit_count': 9})"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "crm.example",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "Email sent successfully"
    assert line["level"] == "INFO"
    assert set(line) >= STRUCTURED_FIELDS


@pytest.mark.parametrize(
    ("address", "masked"),
    [("ivan.petrov@example.ru", "i***v@example.ru"), ("ab@x.ru", "a***@x.ru"), ("broken", "***")],
)
def test_mask_email(address, masked):
    assert mask_email(address) == masked


def test_email_hash_is_stable_keyed_and_case_insensitive():
    assert email_hash("Ivan@Example.ru ") == email_hash("ivan@example.ru")
    assert len(email_hash("ivan@example.ru")) == 16
    assert "ivan" not in email_hash("ivan@example.ru")


def test_redact_leaves_text_without_addresses_alone():
    assert redact("Connection refused") == "Connection refused"


# --- every logger, every form of an address (issue 8, finding 9) ------------------------------------

ADDRESS = "ivan.petrov@example.ru"
ENCODED = ("ivan.petrov%40example.ru", "ivan.petrov%2540example.ru", "ivan.petrov%252540example.ru")


@pytest.mark.parametrize(
    "text, redacted",
    [
        (
            f"GET /admin/mailer/campaignrecipient/?q={ENCODED[0]} HTTP/1.1",
            "GET /admin/mailer/campaignrecipient/?q=i***v%40example.ru HTTP/1.1",
        ),
        (f"Not Found: /no-such/{ADDRESS}/", "Not Found: /no-such/i***v@example.ru/"),
        (f"/no-such/{ENCODED[1]}/", "/no-such/i***v%2540example.ru/"),
        (f"/no-such/{ENCODED[2]}/", "/no-such/i***v%252540example.ru/"),
    ],
)
def test_redaction_catches_url_encoded_addresses_and_keeps_the_path(text, redacted):
    assert redact(text) == redacted


def test_extras_of_any_type_are_redacted():
    class Request:
        def __repr__(self):
            return f"<WSGIRequest: GET '/admin/mailer/campaignrecipient/?q={ENCODED[0]}'>"

    record = logging.makeLogRecord(
        {"msg": "Not Found", "request": Request(), "status_code": 404, "details": {"to": [ADDRESS], "n": 1}}
    )
    RedactEmailsFilter().filter(record)
    assert record.request == "<WSGIRequest: GET '/admin/mailer/campaignrecipient/?q=i***v%40example.ru'>"
    assert record.details == {"to": ["i***v@example.ru"], "n": 1}
    assert record.status_code == 404


@pytest.mark.parametrize(
    "target, masked",
    [
        (f"/admin/mailer/campaignrecipient/?q={ENCODED[0]}&p=2", "/admin/mailer/campaignrecipient/?q=***&p=***"),
        (f"https://crm.example.com/admin/?{ADDRESS}", "https://crm.example.com/admin/?***"),
        ("/admin/", "/admin/"),
    ],
)
def test_query_values_are_masked_whole(target, masked):
    assert mask_query_values(target) == masked


@pytest.fixture
def console(settings):
    """The console handler from settings.LOGGING, as production formats it (JSON), into a buffer."""
    [handler] = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactEmailsFilter) for f in h.filters)]
    buffer = io.StringIO()
    stream, formatter = handler.setStream(buffer), handler.formatter
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    yield buffer
    handler.setStream(stream)
    handler.setFormatter(formatter)


def test_djangos_own_request_records_carry_no_address(client, console):
    for path in (f"/no-such/{ADDRESS}/", f"/no-such/{ENCODED[0]}/", f"/unsubscribe/{ADDRESS}/"):
        assert client.get(path).status_code in (400, 404)

    lines = [json.loads(line) for line in console.getvalue().splitlines()]
    requests = [line for line in lines if line["name"] == "django.request"]
    assert [line["message"] for line in requests] == [
        "Not Found: /no-such/i***v@example.ru/",
        "Not Found: /no-such/i***v@example.ru/",
        "Bad Request: /unsubscribe/i***v@example.ru/",
    ]
    assert all("i***v@example.ru" in line["request"] for line in requests)  # the request, redacted
    assert_no_address(console.getvalue())


def test_djangos_own_handlers_are_replaced_by_redacting_ones():
    """DEBUG's console copies, mail to ADMINS and runserver's lines had handlers without the filter."""
    for name in ("django", "py.warnings"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name
    streams = [h for h in logging.getLogger("django.server").handlers if type(h) is logging.StreamHandler]
    assert streams and all(any(isinstance(f, RedactEmailsFilter) for f in h.filters) for h in streams)


def assert_no_address(text):
    for form in (ADDRESS, *ENCODED):
        assert form.lower() not in text.lower(), form
