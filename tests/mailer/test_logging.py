"""PII-safe, structured logs (checklist 10, 14)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailer import sending, services
from mailer.pii import KeyValueFormatter, RedactEmailsFilter, email_hash, extra_fields, mask_email, redact
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

STRUCTURED_FIELDS = {
    "campaign_id", "queue_id", "recipient_id", "email_domain", "email_masked", "email_hash",
    "smtp_message_id", "provider", "took_ms", "rate_limit_count",
}
ADDRESSES = ["ivan.petrov@example.com", "gone.user@example.com", "olga@example.org"]


def _all_text(record):
    return " ".join([record.getMessage(), *(str(v) for v in extra_fields(record).values())])


def test_no_full_address_in_any_log_record_and_sent_records_are_structured(clock, inbox, owner, caplog):
    inbox.refuse["gone.user@example.com"] = "550 5.1.1 <gone.user@example.com>: Recipient unknown"
    campaign = make_campaign(owner, emails=ADDRESSES)
    services.campaign_start(campaign=campaign, user=owner)
    with caplog.at_level(logging.DEBUG):
        sending.run_sender_pass()
        services.send_test_email(campaign=campaign, user=owner, to="tester@example.net")

    mailer_records = [r for r in caplog.records if r.name.startswith("mailer")]
    for record in mailer_records:
        text = _all_text(record)
        for address in [*ADDRESSES, "tester@example.net"]:
            assert address not in text, (record.getMessage(), address)

    sent = [r for r in mailer_records if r.getMessage() == "Email sent successfully"]
    assert len(sent) == 2
    assert all(STRUCTURED_FIELDS <= set(extra_fields(r)) for r in sent)
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
        {"name": "mailer", "levelno": logging.INFO, "levelname": "INFO", "msg": "Campaign finished",
         "finished_with_errors": True, "campaign_id": 7}
    )
    line = KeyValueFormatter().format(record)
    assert line.endswith("Campaign finished finished_with_errors=true campaign_id=7")


def test_json_logs_with_debug_off_carry_every_extra_field():
    """Runs a fresh process with production settings, as a worker would start."""
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('mailer.sending').info('Email sent successfully', extra={"
        "'campaign_id': 1, 'queue_id': 2, 'recipient_id': 3, 'email_domain': 'example.com', "
        "'email_masked': 'i***n@example.com', 'email_hash': 'abc', 'smtp_message_id': '<m@x>', "
        "'provider': 'smtp.bz', 'took_ms': 5, 'rate_limit_count': 9})"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "False",
           "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "crm.example"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=60)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "Email sent successfully"
    assert line["level"] == "INFO"
    assert STRUCTURED_FIELDS <= set(line)


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
