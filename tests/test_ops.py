"""Running and deploying the product: /healthz, the production guards and `check --deploy`,
gunicorn behind Docker's health check, and several Huey consumers sharing the work under one
sender lock. (`make run` and the dev tools: tests/devtools/.)"""

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from huey.contrib.djhuey import HUEY

from devtools import launcher
from mailer import services, tasks
from mailer.models import GlobalMailAccount, SendLog
from tests.conftest import free_port, make_campaign
from tests.processes import BASE_DIR, database_url, manage, production_env, wait_until

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
