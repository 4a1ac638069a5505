"""Redis killed and restarted under a running Huey consumer (finding 11 of issue 10): the
consumer backs off and logs one line a minute instead of a traceback a poll, and takes work
again once Redis is back."""

import signal
import subprocess
import sys
import time

import pytest
from huey import RedisHuey
from huey.contrib.djhuey import HUEY

from mailer import services, tasks
from mailer.models import CampaignQueue
from tests.conftest import free_port, make_campaign
from tests.processes import BASE_DIR, database_url, kill_pid, production_env, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

DOWN = "Redis unreachable: the task queue waits, retrying with backoff"
BACK = "Redis is back: the task queue runs again"


class RedisServer:
    """A redis-server of this test's own, on a free port, that the test may kill."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        assert wait_until(self.answers, timeout=10, step=0.05)

    def answers(self):
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def kill(self):
        kill_pid(self.process.pid)
        self.process.wait()


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def queue_on(redis_server):
    """Calling a task in this process puts it on the test's own Redis."""
    saved = HUEY._immediate, HUEY.storage
    HUEY._immediate = False
    HUEY.storage = RedisHuey(HUEY.name, url=redis_server.url).storage
    yield
    HUEY._immediate, HUEY.storage = saved


class Consumer:
    """`run_huey` (two workers, no periodic tasks) on the test's Redis, its log in a file."""

    def __init__(self, redis_server, log_path, **settings):
        env = production_env(
            DATABASE_URL=database_url(), REDIS_URL=redis_server.url, MAILER_WORKING_HOURS_ENABLED="false", **settings
        )
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "--workers", "2", "-n"],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        assert wait_until(lambda: "Huey consumer started" in self.log(), timeout=20, step=0.1)

    def log(self):
        return self.log_path.read_text()

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=20)


def test_consumer_backs_off_quietly_while_redis_is_down_and_works_when_it_returns(
    inbox, owner, redis_server, queue_on, tmp_path
):
    consumer = Consumer(redis_server, tmp_path / "consumer.log")
    log_path = consumer.log_path
    try:
        before = len(log_path.read_text().splitlines())
        redis_server.kill()
        down_for = 6
        time.sleep(down_for)
        during = log_path.read_text()

        redis_server.start()
        campaign = make_campaign(owner, recipients=5)
        services.campaign_start(campaign=campaign, user=owner)
        tasks.send_pending_emails()  # queued on the restarted Redis
        assert wait_until(lambda: len(inbox.received) == 5, timeout=40, step=0.2), log_path.read_text()
    finally:
        consumer.stop()
    after = log_path.read_text()

    logged = len(during.splitlines()) - before
    print(f"\nRedis down {down_for} s under a consumer (2 workers + scheduler): {logged} log line(s)")
    assert during.count(DOWN) == 1
    assert "Traceback" not in after
    assert after.count(BACK) == 1


def test_redis_killed_and_restarted_mid_campaign_keeps_the_hourly_limit(inbox, owner, redis_server, queue_on, tmp_path):
    """A consumer sends a 40-recipient campaign against a limit of 20; Redis dies after a few
    messages and comes back empty. The limit holds across all of it."""
    inbox.on_message = lambda received: time.sleep(0.1)
    campaign = make_campaign(owner, recipients=40)
    services.campaign_start(campaign=campaign, user=owner)
    consumer = Consumer(redis_server, tmp_path / "consumer.log", MAILER_RATE_PER_HOUR=20)
    try:
        tasks.send_pending_emails()
        assert wait_until(lambda: len(inbox.received) >= 3, timeout=20, step=0.05), consumer.log()
        redis_server.kill()  # mid-campaign: the pass goes on, counting in the database
        assert wait_until(lambda: "rate_per_hour" in deferral(campaign), timeout=30), consumer.log()
        redis_server.start()  # empty
        tasks.send_pending_emails()
        tasks.send_pending_emails()
        time.sleep(3)
    finally:
        consumer.stop()

    addresses = inbox.addresses()
    print(f"\nRedis killed mid-campaign and restarted empty, limit 20: {len(addresses)} sent of 40")
    assert len(addresses) == len(set(addresses)) == 20
    assert "Traceback" not in consumer.log()


def deferral(campaign):
    return CampaignQueue.objects.filter(campaign=campaign).values_list("defer_reason", flat=True).first() or ""
