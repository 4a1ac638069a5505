"""Secrets at rest (issue 8, finding 11): the SMTP password and the smtp.bz API key are
stored encrypted with MAILER_SECRETS_KEY, plain values of older versions are encrypted by a
migration, everything that uses them still works, and a value the key cannot decrypt is a
clear Russian refusal — never an empty password."""

import logging

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from mailer import services
from mailer.engine import sender
from mailer.exceptions import MailerError
from mailer.models import CampaignRecipient, GlobalMailAccount, SmtpBzQuota
from mailer.smtp_bz import quota
from mailer.stored_secrets import UnreadableSecret
from tests.conftest import RecordingHandler, free_port, make_campaign

pytestmark = pytest.mark.django_db

OTHER_KEY = "b3RoZXIta2V5LW9mLWFub3RoZXItZGVwbG95bWVudCE="  # a valid Fernet key, not the tests' one


def stored(column):
    """The column as PostgreSQL holds it, past the model's field."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM mailer_globalmailaccount WHERE id = 1")
        return cursor.fetchone()[0]


def save_secrets(**values):
    account = GlobalMailAccount.load()
    for name, value in values.items():
        setattr(account, name, value)
    account.save()
    return account


def write_with_another_key(settings):
    """Secrets written under another deployment's key, then read with ours."""
    ours = settings.MAILER_SECRETS_KEY
    settings.MAILER_SECRETS_KEY = OTHER_KEY
    save_secrets(smtp_password="old-pass", smtp_bz_api_key="old-key")
    settings.MAILER_SECRETS_KEY = ours


@pytest.fixture
def unreadable(settings):
    write_with_another_key(settings)


def test_secrets_are_stored_encrypted_and_read_back_plain():
    save_secrets(smtp_password="s3cret-smtp-pass", smtp_bz_api_key="s3cret-api-key")

    for column, plain in (("smtp_password", "s3cret-smtp-pass"), ("smtp_bz_api_key", "s3cret-api-key")):
        assert stored(column).startswith("fernet:") and plain not in stored(column)
    account = GlobalMailAccount.load()
    assert (account.smtp_password, account.smtp_bz_api_key) == ("s3cret-smtp-pass", "s3cret-api-key")


def test_empty_secrets_stay_empty():
    save_secrets(smtp_password="", smtp_bz_api_key="")
    assert stored("smtp_password") == stored("smtp_bz_api_key") == ""


class PasswordChecker:
    """An SMTP server's AUTH: accepts only the right login and password."""

    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret-smtp-pass")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_smtp_logs_in_with_the_decrypted_password(clock, owner):
    handler, checker = RecordingHandler(), PasswordChecker()
    server = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=checker,
        auth_required=True,
        auth_require_tls=False,
    )
    server.start()
    try:
        GlobalMailAccount.objects.update_or_create(
            pk=1,
            defaults={
                "is_enabled": True,
                "smtp_host": "127.0.0.1",
                "smtp_port": server.port,
                "use_tls": False,
                "smtp_username": "crm",
                "smtp_password": "s3cret-smtp-pass",
                "per_user_daily_limit": 0,
            },
        )
        campaign = make_campaign(owner, emails=["anna@client.example"])
        services.campaign_start(campaign=campaign, user=owner)
        sender.run_sender_pass()
    finally:
        server.stop()
    assert checker.seen == [("crm", "s3cret-smtp-pass")]
    assert handler.addresses() == ["anna@client.example"]


def test_the_api_gets_the_decrypted_key(clock, smtp_bz):
    save_secrets(smtp_bz_api_key="secret-key-123")
    quota.sync_quota(now=timezone.now())
    assert smtp_bz.requests[-1]["headers"]["Authorization"] == "secret-key-123"


def test_keys_rotate_the_first_encrypts_and_all_decrypt(settings):
    ours = settings.MAILER_SECRETS_KEY
    save_secrets(smtp_password="s3cret")
    settings.MAILER_SECRETS_KEY = f"{OTHER_KEY},{ours}"
    assert GlobalMailAccount.load().smtp_password == "s3cret"  # read with the old key
    save_secrets(smtp_password="s3cret")
    settings.MAILER_SECRETS_KEY = OTHER_KEY
    assert GlobalMailAccount.load().smtp_password == "s3cret"  # written with the new one


# --- a value the key cannot decrypt ------------------------------------------------------------------


def test_an_unreadable_secret_is_never_an_empty_password(unreadable):
    account = GlobalMailAccount.load()
    assert isinstance(account.smtp_password, UnreadableSecret) and account.smtp_password
    assert "ключ MAILER_SECRETS_KEY не подходит" in account.smtp_password.refusal()


def test_a_value_written_in_plain_text_around_the_app_is_not_taken_for_a_password():
    save_secrets(smtp_password="")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE mailer_globalmailaccount SET smtp_password = 'typed-in-psql' WHERE id = 1")
    password = GlobalMailAccount.load().smtp_password
    assert isinstance(password, UnreadableSecret)
    assert "значение хранится без шифрования" in password.refusal()


def test_with_an_unreadable_password_nothing_is_sent_and_nobody_is_blamed(inbox, owner, clock, caplog, settings):
    campaign = make_campaign(owner, emails=["anna@client.example"])
    services.campaign_start(campaign=campaign, user=owner)
    write_with_another_key(settings)  # e.g. the key was changed after the campaign started
    with caplog.at_level(logging.ERROR, logger="mailer"):
        sender.run_sender_pass()
    assert not inbox.received
    assert campaign.recipients.get().status == CampaignRecipient.Status.PENDING
    assert "SMTP password cannot be decrypted, nothing sent" in [r.getMessage() for r in caplog.records]


def test_starting_or_test_sending_says_why_in_russian(unreadable, inbox, owner, clock):
    GlobalMailAccount.objects.filter(pk=1).update(is_enabled=True)
    campaign = make_campaign(owner, emails=["anna@client.example"])
    for action in (
        lambda: services.campaign_start(campaign=campaign, user=owner),
        lambda: services.send_test_email(campaign=campaign, user=owner, to="me@crm.example"),
    ):
        with pytest.raises(MailerError, match="Не удаётся расшифровать поле «пароль» в «Настройках почты»"):
            action()
    assert not inbox.received


def test_the_quota_sync_records_why_it_could_not_call(unreadable, smtp_bz, clock):
    row = quota.sync_quota(now=timezone.now())
    assert "Не удаётся расшифровать поле «API-ключ smtp.bz»" in row.sync_error
    assert not smtp_bz.requests  # no call with an empty or garbled key
    assert SmtpBzQuota.objects.count() == 1


def test_the_mail_settings_page_opens_says_so_and_keeps_or_replaces_the_value(unreadable, admin_client):
    client = admin_client
    url = reverse("admin:mailer_globalmailaccount_change", args=[1])
    page = client.get(url)
    assert page.status_code == 200
    assert "Не удаётся расшифровать поле «пароль»" in page.content.decode()
    before = stored("smtp_password")
    form = {
        "is_enabled": "on",
        "smtp_host": "smtp.example",
        "smtp_port": 2525,
        "smtp_username": "u",
        "smtp_password": "",
        "use_tls": "on",
        "from_email": "crm@example.ru",
        "from_name": "",
        "reply_to": "",
        "per_user_daily_limit": 100,
        "smtp_bz_api_key": "",
    }

    assert client.post(url, form).status_code == 302
    assert stored("smtp_password") == before  # an empty field changes nothing, even this
    assert client.post(url, {**form, "smtp_password": "new-pass"}).status_code == 302
    assert GlobalMailAccount.load().smtp_password == "new-pass"


# --- the data migration ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_plain_values_of_older_versions():
    executor = MigrationExecutor(connection)
    executor.migrate([("mailer", "0003_attachments_private_storage")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mailer_globalmailaccount (id, is_enabled, smtp_host, smtp_port, "
            "smtp_username, smtp_password, use_tls, use_ssl, from_email, from_name, reply_to, "
            "per_user_daily_limit, smtp_bz_api_key, updated_at) VALUES (1, true, 'h', 587, 'u', "
            "'plain-pass', true, false, 'a@b.ru', '', '', 500, 'plain-key', now())"
        )
    try:
        call_command("migrate", "mailer", verbosity=0)
        assert stored("smtp_password").startswith("fernet:") and stored("smtp_bz_api_key").startswith("fernet:")
        account = GlobalMailAccount.load()
        assert (account.smtp_password, account.smtp_bz_api_key) == ("plain-pass", "plain-key")

        call_command("migrate", "mailer", "0003", verbosity=0)  # and back, for a rollback
        assert (stored("smtp_password"), stored("smtp_bz_api_key")) == ("plain-pass", "plain-key")
    finally:
        call_command("migrate", "mailer", verbosity=0)
