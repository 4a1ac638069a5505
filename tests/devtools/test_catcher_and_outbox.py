"""The dev mail catcher and «Исходящие (dev)»: each message kept as a .eml file, listed and
shown to superusers while the catcher is on."""

import re

import pytest
from django.urls import reverse

from devtools import catcher, launcher
from mailer import services
from mailer.engine import sender
from mailer.pii import EMAIL_PATTERN
from tests.conftest import free_port, make_campaign


@pytest.fixture
def caught(settings, tmp_path, clock, owner, caplog):
    """One campaign message sent by the pipeline to a real catcher writing into tmp_path."""
    settings.MAIL_CATCHER, settings.MAIL_CATCHER_DIR = True, tmp_path
    server = catcher.start(host="127.0.0.1", port=free_port(), folder=tmp_path)
    try:
        launcher.point_account_at_catcher(host="127.0.0.1", port=server.port)
        campaign = make_campaign(owner, emails=["anna@client.example"], name="Проверка ловушки")
        services.campaign_start(campaign=campaign, user=owner)
        with caplog.at_level("INFO", logger="mailer"):
            sender.run_sender_pass()
    finally:
        server.stop()
    return campaign


def test_the_catcher_keeps_each_message_as_an_eml_file_and_logs_no_address(caught, tmp_path, caplog):
    [eml] = tmp_path.glob("*.eml")
    assert b"X-Envelope-To: anna@client.example" in eml.read_bytes()
    records = caplog.get_records("setup")  # the fixture sent it
    [record] = [r for r in records if r.getMessage() == "Message caught"]
    assert (record.file, record.recipients) == (eml.name, 1)
    assert not any(EMAIL_PATTERN.search(r.getMessage()) for r in records)


def test_outbox_lists_the_messages_and_shows_one_with_its_text_html_and_headers(caught, admin_client):
    listing = admin_client.get(reverse("admin:outbox")).content.decode()
    assert "Исходящие (dev)" in listing and "Всего: 1." in listing
    assert "anna@client.example" in listing and "Предложение для" in listing
    name = re.search(r"/admin/outbox/([\w.-]+\.eml)/", listing).group(1)

    page = admin_client.get(reverse("admin:outbox_message", args=[name])).content.decode()
    assert "Здравствуйте, Клиент 0!" in page  # the text part
    # The HTML, sandboxed without scripts or forms; its links open in a new tab.
    assert '<iframe sandbox="allow-popups allow-popups-to-escape-sandbox"' in page and "&lt;p&gt;Здравствуйте" in page
    assert 'srcdoc="<base target=&quot;_blank&quot;>' in page
    assert '<a href="http://127.0.0.1:8000/unsubscribe/' in page  # the text part's links are links
    assert "List-Unsubscribe-Post" in page and "Message-ID" in page  # the headers
    assert admin_client.get("/admin/outbox/passwd.eml/").status_code == 404  # not a name the catcher gives


def test_outbox_is_for_superusers_and_only_while_the_catcher_is_on(caught, client, admin_client, owner, settings):
    client.force_login(owner)  # a manager: staff, not superuser
    assert client.get(reverse("admin:outbox")).status_code == 403
    assert "Исходящие (dev)" not in client.get(reverse("admin:index")).content.decode()
    assert "Исходящие (dev)" in admin_client.get(reverse("admin:index")).content.decode()

    settings.MAIL_CATCHER = False
    assert admin_client.get(reverse("admin:outbox")).status_code == 404
    assert "Исходящие (dev)" not in admin_client.get(reverse("admin:index")).content.decode()
