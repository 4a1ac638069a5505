"""No full address in any log line of a production-like process (issue 8, finding 9).

gunicorn with config/gunicorn.py, DEBUG=False, PostgreSQL, Redis and JSON logs serves a
superuser who fails a login with an address as the name, logs in, creates a campaign with an
attachment, imports recipients from XLSX, searches them by a full address, hits 404s and a
400 with an address in the path, sends a test e-mail, starts the campaign and downloads the
attachment; then `manage.py mailer_send_now` sends it to an aiosmtpd server that refuses one
address with the address in its reply. Everything both processes wrote is scanned for any
full address, plain or URL-encoded.
"""

import io
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import openpyxl
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User

from devtools import launcher
from mailer.models import Campaign, CampaignRecipient
from tests.conftest import free_port
from tests.processes import BASE_DIR, Browser, database_url, production_env, wait_until

ADDRESS = "ivan.petrov@example.ru"
BOUNCED = "gone.user@example.ru"
OTHER = "olga@example.org"
TESTER = "tester@example.net"
STAFF = "boss@crm.example"
ADDRESSES = (ADDRESS, BOUNCED, OTHER, TESTER, STAFF)
# Any address: `@` or its URL-encodings, not right after a mask's `*` (`i***v@…` is masked) and
# not a Message-ID (`<digits.digits.digits…@domain>`, logged on purpose as smtp_message_id).
ANY_ADDRESS = re.compile(r"(?<![\w.+*%-])(?!\d+\.\d+\.\d+)[\w.+-]+(?:@|%(?:25)*40)[\w-]+(?:\.[\w-]+)+")


def spellings(address):
    local, _, domain = address.partition("@")
    return [f"{local}{at}{domain}" for at in ("@", "%40", "%2540", "%252540")]


class Staff(Browser):
    """The admin as a browser uses it, answers of any status included."""

    def request(self, path, *, data=None, files=None, headers=None):
        body, content_type = _form(data, files) if data is not None else (None, None)
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            headers={
                "Referer": self.base_url + path,
                **({"Content-Type": content_type} if content_type else {}),
                **(headers or {}),
            },
        )
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def submit(self, path, data, files=None):
        """Posts a form with the CSRF cookie's token, as the page's form would."""
        token = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        return self.request(path, data={"csrfmiddlewaretoken": token, **data}, files=files)


def _form(data, files):
    if not files:
        return urllib.parse.urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in data.items()
    ]
    parts += [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
        for name, (filename, content) in files.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def recipients_xlsx():
    book = openpyxl.Workbook()
    for row in (["E-mail", "Имя"], [ADDRESS, "Иван"], [BOUNCED, "Ушедший"], [OTHER, "Ольга"], ["not-an-address", ""]):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def confirm_form_fields(page):
    """The hidden fields of the import preview's confirm form, whatever they are."""
    form = re.search(r'<form[^>]*action="[^"]*process_import/"[^>]*>(.*?)</form>', page, re.S).group(1)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def work_as_staff(staff):
    """What a superuser does in a morning; returns what the responses showed."""
    staff.request("/admin/login/")
    seen = {"failed login": staff.submit("/admin/login/", {"username": ADDRESS, "password": "wrong"})[0]}
    staff.login("boss", "right-pass")

    status, _ = staff.submit(
        "/admin/mailer/campaign/add/",
        {
            "name": "Осень",
            "subject": "Предложение",
            "body_html": "<p>Здравствуйте, {{ name }}!</p>",
            "body_text": "",
            "attachments-TOTAL_FORMS": 1,
            "attachments-INITIAL_FORMS": 0,
            "recipients-TOTAL_FORMS": 0,
            "recipients-INITIAL_FORMS": 0,
        },
        files={"attachments-0-file": ("price.pdf", b"%PDF-1.4 price")},
    )
    campaign = Campaign.objects.get(name="Осень")

    page = staff.request("/admin/mailer/campaignrecipient/import/")[1].decode()
    xlsx_format = re.search(r'<option value="(\d+)"[^>]*>\s*xlsx\s*</option>', page).group(1)
    _, preview = staff.submit(
        "/admin/mailer/campaignrecipient/import/",
        {"campaign": campaign.pk, "format": xlsx_format, "resource": 0},
        files={"import_file": ("clients.xlsx", recipients_xlsx())},
    )
    staff.submit("/admin/mailer/campaignrecipient/process_import/", confirm_form_fields(preview.decode()))

    search = f"/admin/mailer/campaignrecipient/?q={urllib.parse.quote(ADDRESS)}"
    seen["search"] = staff.request(search)[1].decode()
    seen["404 plain"] = staff.request(f"/no-such/{ADDRESS}/")[0]
    seen["404 encoded"] = staff.request(
        f"/admin/no-such/{urllib.parse.quote(ADDRESS)}/", headers={"Referer": staff.base_url + search}
    )[0]
    seen["bad unsubscribe"] = staff.request(f"/unsubscribe/{ADDRESS}/", data={"List-Unsubscribe": "One-Click"})[0]
    detail = f"/admin/mailer/campaign/{campaign.pk}/"
    seen["test e-mail"] = staff.submit(detail + "test-email/", {"_form_submitted": "on", "to": TESTER})[1].decode()
    seen["start"] = staff.submit(detail + "start/", {"_form_submitted": "on", "confirm": "on"})[1].decode()
    change = staff.request(detail + "change/")[1].decode()
    link = re.search(r'href="(/admin/mailer/attachments/[^"]+)"', change).group(1)
    seen["attachment"] = staff.request(link)
    return campaign, seen


@pytest.fixture
def boss(db):
    # The child processes have only Django's default hashers, not the tests' fast MD5 one.
    password = PBKDF2PasswordHasher().encode("right-pass", PBKDF2PasswordHasher().salt(), iterations=1000)
    return User.objects.create(username="boss", email=STAFF, password=password, is_staff=True, is_superuser=True)


@pytest.mark.django_db(transaction=True)
def test_a_production_process_logs_no_full_address_anywhere(tmp_path, boss, inbox):
    inbox.refuse[BOUNCED] = f"550 5.1.1 <{BOUNCED}>: Recipient unknown"
    port = free_port()
    env = production_env(
        DATABASE_URL=database_url(),
        PORT=port,
        WEB_CONCURRENCY=1,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="False",
        SECURE_COOKIES="False",
        DATA_DIR=tmp_path,
        MAILER_WORKING_HOURS_ENABLED="false",
    )
    output = tmp_path / "gunicorn.log"
    with output.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_until(lambda: launcher.is_listening("127.0.0.1", port), timeout=20, step=0.2)
        campaign, seen = work_as_staff(Staff(f"http://127.0.0.1:{port}"))
        sender = subprocess.run(
            [sys.executable, "manage.py", "mailer_send_now"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    everything = output.read_text() + sender.stdout + sender.stderr

    # It all happened, so there was something to leak.
    assert seen["failed login"] == 200 and ADDRESS in seen["search"]
    assert (seen["404 plain"], seen["404 encoded"], seen["bad unsubscribe"]) == (404, 404, 400)
    assert f"Тестовое письмо отправлено на {TESTER}" in seen["test e-mail"]
    assert "поставлена в очередь на отправку" in seen["start"]
    assert seen["attachment"] == (200, b"%PDF-1.4 price")  # with DEBUG=False, through the view
    assert sorted(inbox.addresses()) == sorted([TESTER, ADDRESS, OTHER])
    assert campaign.recipients.get(email=BOUNCED).status == CampaignRecipient.Status.FAILED
    assert '"GET /admin/mailer/campaignrecipient/?q=*** HTTP/1.1" 200' in everything  # gunicorn's access log
    assert '"message": "Not Found: /no-such/i***v@example.ru/"' in everything  # Django's, as JSON
    assert '"message": "Email send failed"' in everything and "g***r@example.ru" in everything

    for address in ADDRESSES:
        for spelling in spellings(address):
            assert spelling.lower() not in everything.lower(), spelling
    assert not ANY_ADDRESS.findall(everything), ANY_ADDRESS.findall(everything)
