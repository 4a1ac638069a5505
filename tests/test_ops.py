"""Running and deploying the product: `make run`'s entry point end to end, the dev mail catcher
and «Исходящие (dev)», /healthz, the production guards and `check --deploy`, gunicorn behind
Docker's health check, and several Huey consumers sharing the work under one sender lock."""

import asyncio
import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from backoffice.models import Company
from devtools import catcher, demo, launcher
from mailer import services, tasks
from mailer.engine import sender
from mailer.models import CampaignRecipient, GlobalMailAccount, SendLog
from mailer.pii import EMAIL_PATTERN
from tests.conftest import free_port, make_campaign

BASE_DIR = Path(settings.BASE_DIR)
# Variables that would change what a child process does (other tests' fixtures set some of
# them in this process, e.g. DJANGO_ALLOW_ASYNC_UNSAFE); each test sets its own.
_SCRUBBED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "DEVTOOLS", "ALLOWED_HOSTS", "DATA_DIR", "PORT")
_SCRUBBED_PREFIXES = ("DJANGO_", "MAILER_", "MAIL_CATCHER")


def child_env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def manage(*args, env, timeout=30):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def database_url():
    """The pytest database, for child processes that must see the test's rows."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


_PRODUCTION_SECRET_KEY = secrets.token_urlsafe(50)  # one for all: processes of a deployment share it


def production_env(**overrides):
    # The tests' own MAILER_SECRETS_KEY: the children read what the tests stored encrypted.
    return child_env(
        **{
            "DEBUG": "False",
            "SECRET_KEY": _PRODUCTION_SECRET_KEY,
            "ALLOWED_HOSTS": "crm.example.com",
            "MAILER_PUBLIC_BASE_URL": "https://crm.example.com",
            "REDIS_URL": settings.REDIS_URL,
            "MAILER_SECRETS_KEY": settings.MAILER_SECRETS_KEY,
            **overrides,
        }
    )


# --- `make run`: manage.py runproduct in a subprocess -------------------------------------------


class Product:
    """`manage.py runproduct` as `make run` starts it, its output collected line by line."""

    def __init__(self, data_dir, *, port):
        env = child_env(DATA_DIR=data_dir, PORT=port, MAIL_CATCHER_PORT=free_port())  # embedded: no URLs
        self.port = port
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runproduct"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.output):
                return match
            assert self.process.poll() is None, f"runproduct ended early:\n{self.output}"
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not printed in {timeout} s:\n{self.output}")

    def interrupt(self, timeout=30):
        """Ctrl-C: SIGINT to runproduct alone, as a terminal would deliver it."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self):
        for pid in descendants(self.process.pid):
            _kill(pid)
        self.process.kill()
        self.process.wait()


def descendants(pid):
    """Every process below `pid`, found through /proc (children of children included)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, frontier = set(), [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            found.add(child)
            frontier.append(child)
    return found


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Browser:
    """urllib with a cookie jar: logs in through the admin's form like a person would."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.url, response.read().decode()

    def post(self, path, data, *, csrf_token=None):
        """A form post; the CSRF token is the page's, or else the cookie's (Django takes both)."""
        token = csrf_token or next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **data}).encode()
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Referer": self.base_url + path})
        with self.opener.open(request, timeout=10) as response:
            return response.url, response.read().decode()

    def login(self, username, password):
        _, page = self.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        url, _ = self.post(
            "/admin/login/?next=/admin/",
            {"username": username, "password": password, "next": "/admin/"},
            csrf_token=token,
        )
        assert url == self.base_url + "/admin/", "login failed"


def recipient_statuses(data_dir):
    """Read straight from the product's SQLite file, as `sqlite3 var/db.sqlite3` would."""
    with sqlite3.connect(f"file:{data_dir / 'db.sqlite3'}?mode=ro", uri=True, timeout=10) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM mailer_campaignrecipient GROUP BY status"))


def wait_until(condition, *, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def test_make_run_serves_the_demo_sends_it_through_the_consumer_and_stops_on_ctrl_c(tmp_path):
    data_dir = tmp_path / "data"
    product = Product(data_dir, port=free_port())
    try:
        password = product.wait_for(r"Пароль: (\S+)").group(1)
        assert f"Адрес:  http://127.0.0.1:{product.port}/admin/" in product.output
        assert "MAILER_WORKING_HOURS_ENABLED=false" in product.output  # the relaxations are printed
        assert "MAILER_RATE_PER_HOUR=1000" in product.output
        browser = Browser(f"http://127.0.0.1:{product.port}")
        assert json.loads(browser.get("/healthz")[1])["status"] == "ok"

        browser.login("admin", password)
        _, campaigns = browser.get("/admin/mailer/campaign/")
        assert demo.CAMPAIGN_NAME in campaigns
        campaign_id = re.search(r"/admin/mailer/campaign/(\d+)/change/", campaigns).group(1)
        # The campaign page's «Запустить» button (an unfold detail action with a dialog).
        _, page = browser.post(f"/admin/mailer/campaign/{campaign_id}/start/", {"_form_submitted": "True"})
        assert "поставлена в очередь на отправку" in page

        # The consumer's sender runs every 30 s; nothing else is done to make it send.
        outbox = data_dir / "outbox"
        assert wait_until(
            lambda: len(list(outbox.glob("*.eml"))) == 4 and recipient_statuses(data_dir).get("failed") == 1, timeout=45
        ), product.output
        assert recipient_statuses(data_dir) == {"sent": 4, "failed": 1}
        _, listing = browser.get("/admin/outbox/")
        assert len(set(re.findall(r"/admin/outbox/([\w.-]+\.eml)/", listing))) == 4
        assert "Исходящие (dev)" in listing

        children = descendants(product.process.pid)
        assert len(children) >= 3  # web server, Huey consumer, mail catcher
        assert product.interrupt() == 0
        assert "Остановлено." in product.output
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a child outlived Ctrl-C"
    finally:
        if product.process.poll() is None:
            product.kill()


def test_a_second_make_run_reuses_the_data_and_prints_no_new_password(tmp_path):
    outputs = []
    for _ in range(2):
        product = Product(tmp_path, port=free_port())
        try:
            product.wait_for(r"Остановить всё: Ctrl-C")
            assert product.interrupt() == 0
        finally:
            if product.process.poll() is None:
                product.kill()
        outputs.append(product.output)

    first, second = outputs
    assert "Пароль: " in first and "Демо-данные загружены" in first
    assert re.search(r"Пароль: был показан при первом запуске; сбросить: .*manage\.py changepassword admin", second)
    assert "Демо-данные загружены" not in second
    assert sum(recipient_statuses(tmp_path).values()) == 5  # the demo went in once


def test_make_run_says_which_port_is_taken(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = manage("runproduct", env=child_env(DATA_DIR=tmp_path, PORT=port))
    assert result.returncode == 1
    assert f"Порт {port} занят другим процессом. Запустите на другом: PORT={port + 1} make run" in result.stderr


def test_make_run_turns_debug_on_and_keeps_random_keys_under_the_data_dir(tmp_path):
    """`make run` needs no SECRET_KEY: it makes one once (mode 0600) and reuses it."""
    with socket.socket() as busy:  # the run stops right after the settings load
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        runs = [manage("runproduct", env=child_env(DATA_DIR=tmp_path, PORT=port, DEBUG="False")) for _ in range(2)]
    assert all(f"Порт {port} занят" in run.stderr for run in runs), runs[0].stderr  # settings loaded
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == (tmp_path / "secrets_key").stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50 and key != "insecure-dev-only-key-never-use-in-production"
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        env=child_env(DATA_DIR=tmp_path, DEBUG="True"),
        timeout=30,
    )
    assert result.stdout.strip() == key  # every later process of this data directory reuses it


# --- what `make run` sets up ----------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_and_demo_data_are_created_once():
    admin = launcher.ensure_admin()
    assert admin.user.is_superuser and admin.user.check_password(admin.password)
    campaign = demo.load(owner=admin.user)

    assert Company.objects.count() == 3
    emails = sorted(campaign.recipients.values_list("email", flat=True))
    assert len(emails) == 5 and demo.INVALID_ADDRESS in emails
    assert campaign.status == "draft" and campaign.created_by == admin.user
    again = launcher.ensure_admin()
    assert (again.user, again.password) == (admin.user, None)
    assert demo.load(owner=admin.user) is None
    assert CampaignRecipient.objects.count() == 5


@pytest.mark.django_db
def test_the_account_is_pointed_at_the_catcher_and_the_relaxations_yield_to_the_environment():
    account = launcher.point_account_at_catcher(host="0.0.0.0", port=2525)
    assert (account.smtp_host, account.smtp_port, account.is_enabled) == ("127.0.0.1", 2525, True)
    assert (account.use_tls, account.use_ssl, account.smtp_username) == (False, False, "")

    relaxed = {r.name: (r.value, r.from_environment) for r in launcher.demo_relaxations({"MAILER_RATE_PER_HOUR": "50"})}
    assert relaxed == {"MAILER_WORKING_HOURS_ENABLED": ("false", False), "MAILER_RATE_PER_HOUR": ("50", True)}


# --- the mail catcher and «Исходящие (dev)» --------------------------------------------------------


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
    assert '<iframe sandbox=""' in page and "&lt;p&gt;Здравствуйте" in page  # the HTML, sandboxed
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


# --- /healthz ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_is_ok_with_the_database_and_redis_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_unreachable(client, redis_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "unavailable"}}


# --- production settings --------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_deploy_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(DATABASE_URL=database_url()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "unset, message",
    [
        ("SECRET_KEY", "SECRET_KEY must be set when DEBUG is off."),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must be set when DEBUG is off."),
        ("MAILER_SECRETS_KEY", "MAILER_SECRETS_KEY must be set when DEBUG is off."),
    ],
)
def test_production_refuses_to_start_without_its_keys_or_allowed_hosts(unset, message):
    env = production_env()
    del env[unset]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


@pytest.mark.django_db
def test_gunicorn_answers_the_docker_healthcheck_and_redirects_the_rest_to_https():
    port = free_port()
    env = production_env(DATABASE_URL=database_url(), PORT=port, WEB_CONCURRENCY=1)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: launcher.is_listening("127.0.0.1", port), timeout=20, step=0.2)
        check = subprocess.run(
            [sys.executable, "bin/healthcheck"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=15
        )
        assert check.returncode == 0, check.stdout
        assert json.loads(check.stdout)["status"] == "ok"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/login/", headers={"Host": "crm.example.com"})
        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"] == "https://crm.example.com/admin/login/"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# --- scaling: several Huey consumers, one sender -----------------------------------------------------


class SlowRecorder:
    """An SMTP server that takes 20 ms per message, so a sender pass lasts long enough for
    other consumers to try to start one; records which connection brought each message."""

    def __init__(self):
        self.received = []  # (recipient, client address and port)

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.02)
        self.received.extend((rcpt, session.peer) for rcpt in envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def queue_on_redis():
    """Tests run Huey tasks inline; here calling a task puts it on the shared Redis queue."""
    HUEY.immediate = False
    yield HUEY
    HUEY.immediate = True


def _consumer(*args, log):
    env = production_env(DATABASE_URL=database_url(), MAILER_WORKING_HOURS_ENABLED="false", MAILER_RATE_PER_HOUR=10000)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.django_db(transaction=True)
def test_two_consumers_share_the_work_while_the_lock_keeps_one_sender(tmp_path, owner, queue_on_redis):
    smtp = SlowRecorder()
    server = Controller(smtp, hostname="127.0.0.1", port=free_port())
    server.start()
    GlobalMailAccount.objects.update_or_create(
        pk=1,
        defaults={
            "is_enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "use_tls": False,
            "per_user_daily_limit": 0,
        },
    )
    campaign = make_campaign(owner, recipients=200)
    services.campaign_start(campaign=campaign, user=owner)
    logs = {name: (tmp_path / f"{name}.log").open("w+") for name in ("periodic", "extra")}
    # The extra consumer (`-n`: no periodic tasks) first, so that it is up when work arrives.
    consumers = [_consumer("-n", log=logs["extra"])]
    try:
        assert wait_until(lambda: "Huey consumer started" in _read(logs["extra"]), timeout=15, step=0.1)
        consumers.append(_consumer(log=logs["periodic"]))  # its periodic task starts a pass at once
        assert wait_until(lambda: smtp.received, timeout=15, step=0.05), _read(logs["periodic"])
        for _ in range(3):  # more passes while that one sends: the other consumer takes them
            tasks.send_pending_emails()
        assert wait_until(lambda: len(smtp.received) >= 200, timeout=30), _read(logs["periodic"])
        assert wait_until(lambda: _combined(logs).count("Executing mailer.tasks.send_pending_emails") >= 4, timeout=10)
    finally:
        for consumer in consumers:
            consumer.send_signal(signal.SIGINT)
        for consumer in consumers:
            consumer.wait(timeout=20)
        server.stop()
        for log in logs.values():
            log.close()

    recipients = [rcpt for rcpt, _ in smtp.received]
    assert sorted(recipients) == sorted(campaign.recipients.values_list("email", flat=True))  # each once
    assert len({peer for _, peer in smtp.received}) == 1  # one sender: a single SMTP connection
    sent = SendLog.objects.filter(campaign=campaign, status=SendLog.Status.SENT)
    assert sent.count() == sent.values("recipient").distinct().count() == 200
    assert all("Executing mailer.tasks.send_pending_emails" in _read(log) for log in logs.values())
    assert "Another sender holds the lock, skipping this pass" in _combined(logs)
    assert "Periodic tasks are enabled" in _read(logs["periodic"])
    assert "Periodic tasks are enabled" not in _read(logs["extra"])


def _read(log):
    return Path(log.name).read_text()


def _combined(logs):
    return "".join(_read(log) for log in logs.values())
