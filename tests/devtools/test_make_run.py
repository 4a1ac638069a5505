"""`make run` (manage.py runproduct) end to end in a subprocess, and what it sets up: the
admin, the demo data, the account pointed at the catcher, the relaxed limits."""

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backoffice.models import Company
from devtools import demo, launcher
from mailer.models import CampaignRecipient
from tests.conftest import free_port
from tests.processes import BASE_DIR, Browser, child_env, descendants, kill_pid, manage, wait_until


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
            kill_pid(pid)
        self.process.kill()
        self.process.wait()


def recipient_statuses(data_dir):
    """Read straight from the product's SQLite file, as `sqlite3 var/db.sqlite3` would."""
    with sqlite3.connect(f"file:{data_dir / 'db.sqlite3'}?mode=ro", uri=True, timeout=10) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM mailer_campaignrecipient GROUP BY status"))


def test_make_run_serves_the_demo_sends_it_through_the_consumer_and_stops_on_ctrl_c(tmp_path):
    data_dir = tmp_path / "data"
    product = Product(data_dir, port=free_port())
    try:
        password = product.wait_for(r"Пароль: (\S+)").group(1)
        assert f"Адрес:  http://127.0.0.1:{product.port}/admin/" in product.output
        assert "MAILER_WORKING_HOURS_ENABLED=false" in product.output  # the relaxations are printed
        assert "MAILER_RATE_PER_HOUR=1000" in product.output
        assert "Не ослаблен дневной лимит менеджера: 500 писем в день" in product.output  # and says what it keeps
        browser = Browser(f"http://127.0.0.1:{product.port}")
        assert json.loads(browser.get("/healthz")[1])["status"] == "ok"

        browser.login("admin", password)
        _, campaigns = browser.get("/admin/mailer/campaign/")
        assert demo.CAMPAIGN_NAME in campaigns
        campaign_id = re.search(r"/admin/mailer/campaign/(\d+)/change/", campaigns).group(1)
        # The campaign page's «Запустить» button (an unfold detail action with a dialog).
        _, page = browser.post(
            f"/admin/mailer/campaign/{campaign_id}/start/", {"_form_submitted": "True", "confirm": "True"}
        )
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
