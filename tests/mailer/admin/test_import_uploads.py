"""Where an import's file waits for «Подтвердить импорт» (issue 8, finding 5): private storage
bound to the manager who uploaded it, a confirm step that takes only a name issued to that
manager, and no file left behind after the confirm or after an hour."""

import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from mailer import tasks
from tests.conftest import make_campaign
from tests.mailer.admin.spreadsheets import CSV, SCREENS, XLSX, confirm_data, csv_upload, shown_messages, xlsx_upload

pytestmark = pytest.mark.django_db

UNKNOWN_UPLOAD = "Файл для импорта не найден. Загрузите его заново."
EXPIRED_UPLOAD = "Загруженный файл устарел: подтвердить импорт можно в течение часа. Загрузите файл заново."

by_name = pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)


@pytest.fixture
def planted():
    """A CSV planted in the system temp directory, as the old confirm step would import it."""
    path = Path(tempfile.gettempdir()) / f"planted-{uuid.uuid4().hex}.csv"
    path.write_text("email\nplanted@example.com\n")
    yield path
    path.unlink(missing_ok=True)


def preview_as(client, user, screen, upload=None, file_format=CSV):
    client.force_login(user)
    campaign = make_campaign(user, name=f"Черновик {user.username}")
    page = screen.preview(client, upload or csv_upload("email\nanna@example.com\n"), file_format, campaign)
    return confirm_data(page)


def refused_on_import_page(screen, response):
    assert response.redirect_chain[-1][0] == screen.url + "import/"
    assert response.status_code == 200
    return shown_messages(response)


@by_name
def test_the_confirm_step_reads_no_path_and_no_file_it_did_not_issue(
    client, manager_a, import_uploads, screen, planted
):
    issued = preview_as(client, manager_a, screen)
    forged_names = [
        planted.name,
        str(planted),
        "../../etc/passwd",
        "/etc/passwd",
        issued["import_file_name"] + "x",  # a signature that does not match
        f"{manager_a.pk}.{'0' * 32}:1vPq3x:forged-signature",
    ]

    for forged in forged_names:
        response = screen.confirm(client, {**issued, "import_file_name": forged})
        assert refused_on_import_page(screen, response) == [UNKNOWN_UPLOAD], forged

    assert planted.read_text() == "email\nplanted@example.com\n"  # neither read nor removed
    assert screen.imported() == []
    assert len(import_uploads()) == 1  # the manager's own upload still waits for its confirm


@by_name
def test_another_managers_upload_is_refused_and_stays_theirs(client, manager_a, manager_b, import_uploads, screen):
    theirs = preview_as(Client(), manager_b, screen, csv_upload("email\nboris@example.com\n"))

    preview_as(client, manager_a, screen)  # manager A has an upload of their own, too
    response = screen.confirm(client, theirs)

    assert refused_on_import_page(screen, response) == [UNKNOWN_UPLOAD]
    assert screen.imported() == []
    owner = Client()
    owner.force_login(manager_b)
    screen.confirm(owner, theirs)
    assert screen.imported() == ["boris@example.com"]


@by_name
def test_the_file_is_removed_after_the_confirm_and_cannot_be_confirmed_twice(client, manager_a, import_uploads, screen):
    issued = preview_as(client, manager_a, screen, xlsx_upload([["email"], ["anna@example.com"]]), XLSX)
    assert len(import_uploads()) == 1

    screen.confirm(client, issued)
    assert import_uploads() == []
    again = screen.confirm(client, issued)

    assert refused_on_import_page(screen, again) == [UNKNOWN_UPLOAD]
    assert screen.imported() == ["anna@example.com"]


@by_name
def test_a_preview_that_cannot_be_confirmed_keeps_no_file(client, manager_a, import_uploads, screen):
    client.force_login(manager_a)
    page = screen.preview(client, csv_upload("имя\nАнна\n"), CSV, make_campaign(manager_a))
    assert page.context.get("confirm_form") is None
    assert import_uploads() == []


@by_name
def test_an_upload_expires_after_an_hour(client, manager_a, import_uploads, screen):
    issued = preview_as(client, manager_a, screen)
    uploaded_at = datetime.now(tz=UTC)

    with time_machine.travel(uploaded_at + timedelta(minutes=61), tick=False):
        response = screen.confirm(client, issued)

    assert refused_on_import_page(screen, response) == [EXPIRED_UPLOAD]
    assert screen.imported() == []


def test_the_periodic_cleanup_removes_uploads_older_than_an_hour(client, manager_a, import_uploads):
    preview_as(client, manager_a, SCREENS[1])
    uploaded_at = datetime.now(tz=UTC)

    with time_machine.travel(uploaded_at + timedelta(minutes=59), tick=False):
        assert tasks.remove_stale_import_uploads.call_local() == 0
    assert len(import_uploads()) == 1
    with time_machine.travel(uploaded_at + timedelta(minutes=61), tick=False):
        assert tasks.remove_stale_import_uploads.call_local() == 1
    assert import_uploads() == []


@by_name
def test_the_upload_still_needs_the_csrf_token(manager_a, import_uploads, screen):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager_a)
    campaign = make_campaign(manager_a)
    fields = {"format": CSV, "resource": "0", "campaign": campaign.pk}

    forged = client.post(screen.url + "import/", {**fields, "import_file": csv_upload("email\na@example.com\n")})
    client.get(screen.url + "import/")
    token = client.cookies["csrftoken"].value
    genuine = client.post(
        screen.url + "import/",
        {**fields, "import_file": csv_upload("email\na@example.com\n"), "csrfmiddlewaretoken": token},
    )

    assert forged.status_code == 403
    assert genuine.status_code == 200 and genuine.context["confirm_form"] is not None


@by_name
@pytest.mark.parametrize("forged_format", ["²", "٣", "9" * 5000, "-1"])
def test_a_forged_format_is_refused_not_a_500(client, manager_a, import_uploads, screen, forged_format):
    issued = preview_as(client, manager_a, screen)
    response = screen.confirm(client, {**issued, "format": forged_format})
    assert refused_on_import_page(screen, response) == [
        "Форма подтверждения импорта повреждена. Загрузите файл заново."
    ]
    assert screen.imported() == []
