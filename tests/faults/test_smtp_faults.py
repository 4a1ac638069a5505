"""The SMTP failures of issue 10 on a real sender process: one `mailer_send_now` against the
aiosmtpd server, eight campaigns of ten recipients, each meeting one fault (findings 2, 5, 6).

It prints a table of what became of each campaign's recipients (the closing note's figures),
then checks that each party was blamed right: recipients for their own refusals only, the
campaign paused (nobody failed, nobody suppressed) when the sender or the message was refused,
an outcome lost after DATA left `unknown`, and a 421 costing one recipient, not two.
"""

import subprocess
import sys

import pytest

from mailer import services
from mailer.models import Campaign, CampaignQueue, CampaignRecipient, Unsubscribe
from tests.conftest import make_campaign
from tests.processes import BASE_DIR, database_url, production_env

pytestmark = pytest.mark.django_db(transaction=True)


def arrange(inbox):
    """Each scenario: its recipients' domain, which of them meet the fault, and how."""
    inbox.refuse["r3@s421.example"] = "421 4.7.0 Too many messages, closing connection"
    for i in (2, 5, 8):
        inbox.refuse[f"r{i}@s451.example"] = "451 4.3.0 Mailbox busy, try again later"
    for i in (1, 6):
        inbox.refuse[f"r{i}@s550.example"] = "550 5.1.1 Recipient address rejected: User unknown"
    inbox.data_reply["@s552.example"] = "552 5.3.4 Message size exceeds fixed limit"
    inbox.data_reply["@s554.example"] = "554 5.7.1 Message rejected as spam"
    inbox.drop_after_data.update({"r4@drop.example", "r7@drop.example"})
    inbox.hang_after_data["r0@hang.example"] = 3  # the client gives up after 1 s
    inbox.refuse["@s518.example"] = "550 5.1.8 <crm@example.ru>: Sender address rejected: Domain not found"


# In queue order; the refused sender stops the pass, so it goes last.
SCENARIOS = ("s421", "s451", "s550", "s552", "s554", "drop", "hang", "s518")


def test_each_smtp_fault_blames_the_right_party(inbox, owner, tmp_path):
    arrange(inbox)
    campaigns = {}
    for name in SCENARIOS:
        campaigns[name] = make_campaign(owner, emails=[f"r{i}@{name}.example" for i in range(10)], name=name)
        services.campaign_start(campaign=campaigns[name], user=owner)
    env = production_env(
        DATABASE_URL=database_url(),
        MAILER_WORKING_HOURS_ENABLED="false",
        MAILER_RATE_PER_HOUR=10000,
        MAILER_SMTP_TIMEOUT=1,
    )
    run = subprocess.run(
        [sys.executable, "manage.py", "mailer_send_now"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]

    rows = {name: _figures(campaign, inbox) for name, campaign in campaigns.items()}
    print("\nscenario  received  sent  failed-for-good  retryable  unknown  pending  suppressed  campaign")
    for name, r in rows.items():
        print(
            f"{name:<9} {r['received']:>8} {r['sent']:>5} {r['permanent']:>16} {r['transient']:>10} "
            f"{r['unknown']:>8} {r['pending']:>8} {r['suppressed']:>11}  {r['campaign']}"
        )

    assert rows["s421"] | {"campaign": ""} == _row(sent=9, transient=1, received=9)
    peers = [r.peer for r in inbox.received if r.to.endswith("@s421.example")]
    assert peers[2] != peers[3]  # after the 421, a new connection (smtplib had closed the old one)
    assert rows["s451"] | {"campaign": ""} == _row(sent=7, transient=3, received=7)
    assert rows["s550"] | {"campaign": ""} == _row(sent=8, permanent=2, suppressed=2, received=8)
    for name, reason in (("s552", "message_refused"), ("s554", "message_refused"), ("s518", "sender_refused")):
        assert rows[name] == _row(pending=10, campaign=f"paused: {reason}")  # 0 failed, 0 suppressed
    assert rows["drop"] | {"campaign": ""} == _row(sent=8, unknown=2, received=10)  # both arrived, outcome lost
    assert rows["hang"] | {"campaign": ""} == _row(sent=9, unknown=1, received=10)


def _row(**figures):
    base = dict.fromkeys(("received", "sent", "permanent", "transient", "unknown", "pending", "suppressed"), 0)
    return base | {"campaign": ""} | figures


def _figures(campaign, inbox):
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    emails = list(recipients.values_list("email", flat=True))
    queue = CampaignQueue.objects.get(campaign=campaign)
    status = Campaign.objects.get(pk=campaign.pk).status
    return {
        "received": sum(1 for r in inbox.received if r.to in emails),
        "sent": recipients.filter(status="sent").count(),
        "permanent": recipients.filter(status="failed", error_kind="permanent").count(),
        "transient": recipients.filter(status="failed", error_kind="transient").count(),
        "unknown": recipients.filter(status="unknown").count(),
        "pending": recipients.filter(status="pending").count(),
        "suppressed": Unsubscribe.objects.filter(email__in=emails).count(),
        "campaign": f"{status}: {queue.pause_reason}" if queue.pause_reason else f"{status}",
    }
