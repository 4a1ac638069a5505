"""SIGTERM and SIGINT stop a real sender process after the message in flight, with the lock
released and no recipient left claimed (issue 10, finding 8: the signal part).

A Huey consumer (`run_huey`, whose periodic task starts a pass at once) and `mailer_send_now`
send a 400-recipient campaign to the aiosmtpd server, which takes 50 ms a message; the
signal comes once 20 messages are in. Each test prints its figure.
"""

import signal
import subprocess
import sys
import time

import pytest
from django.core.cache import cache

from mailer import services
from mailer.engine import limits
from mailer.models import CampaignRecipient, SendLog
from tests.conftest import make_campaign
from tests.processes import BASE_DIR, database_url, production_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = {
    "run_huey": ["run_huey", "--workers", "1"],
    "mailer_send_now": ["mailer_send_now"],
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_signal_stops_the_sender_after_the_message_in_flight(command, signum, inbox, owner, tmp_path):
    inbox.hang_after_data[""] = 0.05
    campaign = make_campaign(owner, recipients=400)
    services.campaign_start(campaign=campaign, user=owner)
    env = production_env(DATABASE_URL=database_url(), MAILER_WORKING_HOURS_ENABLED="false", MAILER_RATE_PER_HOUR=10000)
    log = tmp_path / "sender.log"
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, "manage.py", *COMMANDS[command]], cwd=BASE_DIR, env=env, stdout=output, stderr=output
        )
    try:
        assert wait_until(lambda: len(inbox.received) >= 20, timeout=30, step=0.05), log.read_text()
        signalled = time.monotonic()
        child.send_signal(signum)
        child.wait(timeout=20)
        took = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            child.kill()

    received = len(inbox.received)
    counts = dict.fromkeys(CampaignRecipient.Status.values, 0)
    for status in campaign.recipients.values_list("status", flat=True):
        counts[status] += 1
    print(
        f"\n{command} {signal.Signals(signum).name} after {20} messages: exited in {took:.2f} s, "
        f"{received} received, {counts['sent']} sent, {counts['sending']} left claimed, "
        f"{counts['pending']} pending, lock {'kept' if cache.get(limits.SENDER_LOCK_KEY) else 'released'}"
    )
    assert took < 5, log.read_text()  # not the whole pass (400 × 50 ms = 20 s)
    assert counts["sending"] == 0 and counts["unknown"] == 0  # the message in flight was finished and recorded
    assert counts["sent"] == received == SendLog.objects.filter(status="sent").count()
    assert counts["pending"] == 400 - received > 0
    assert cache.get(limits.SENDER_LOCK_KEY) is None  # released: the next sender need not wait for its TTL
