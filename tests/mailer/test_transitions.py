"""mailer.transitions is the one writer of campaign, queue and recipient state: nothing else
in the product updates those rows, and each transition is guarded by the state it leaves."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

from mailer import transitions
from mailer.models import Campaign, CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign, msk

STATE_MODELS = {"Campaign", "CampaignQueue", "CampaignRecipient", "RecipientDelivery", "DeliverySync"}
WRITES = {"update", "bulk_update", "update_or_create", "save"}
# Related managers that reach the same rows.
STATE_RELATIONS = {"recipients", "queue"}
APPS = ("mailer", "devtools", "backoffice")


def _root(node):
    """The start of a call chain: `Campaign.objects.filter(...).update` → (`Campaign`, `objects`)."""
    names = []
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        else:
            node = node.func if isinstance(node, ast.Call) else node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return list(reversed(names))


def state_writes(path):
    """Queryset writes on the three models (or through their relations), and any `x.status = …`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.relative_to(settings.BASE_DIR)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            chain = _root(node.func.value)
            if (chain[:1] and chain[0] in STATE_MODELS) or STATE_RELATIONS & set(chain[1:]):
                yield f"{where} {'.'.join(chain)}.{node.func.attr}()"
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
                yield f"{where} … .status = …"


def test_nothing_but_transitions_writes_campaign_queue_or_recipient_state():
    base = Path(settings.BASE_DIR)
    sources = [p for app in APPS for p in (base / app).rglob("*.py") if "migrations" not in p.parts]
    found = [write for path in sources if path.name != "transitions.py" for write in state_writes(path)]
    assert found == []


def test_the_walk_sees_a_write_when_there_is_one(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Campaign.objects.filter(pk=1).update(status='sent')\n"
        "campaign.recipients.filter(x=1).update(status='x')\n"
        "campaign.status = 'ready'\n"
    )
    assert len(list(state_writes(sample))) == 3


@pytest.mark.django_db
def test_pause_stops_only_a_waiting_or_sending_queue(owner):
    campaign = make_campaign(owner, recipients=1, status=Campaign.Status.SENDING)
    queue = CampaignQueue.objects.create(
        campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0), status=CampaignQueue.Status.COMPLETED
    )
    assert transitions.pause(campaign_id=campaign.pk) is False
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENDING

    CampaignQueue.objects.filter(pk=queue.pk).update(status=CampaignQueue.Status.PROCESSING)
    assert transitions.pause(campaign_id=campaign.pk, defer_reason="circuit_breaker") is True
    queue.refresh_from_db()
    assert (queue.status, queue.defer_reason) == ("paused", "circuit_breaker")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED


@pytest.mark.django_db
def test_a_recipient_is_claimed_once(owner):
    recipient = make_campaign(owner, recipients=1).recipients.get()
    now = msk(2026, 11, 30, 10, 0)
    assert transitions.claim_recipient(recipient_id=recipient.pk, message_id="<a@x>", now=now) is True
    assert transitions.claim_recipient(recipient_id=recipient.pk, message_id="<b@x>", now=now) is False
    recipient.refresh_from_db()
    assert (recipient.status, recipient.attempts, recipient.smtp_message_id) == ("sending", 1, "<a@x>")


@pytest.mark.django_db
def test_mark_unsubscribed_touches_waiting_recipients_of_the_given_campaign_only(owner):
    first = make_campaign(owner, emails=["left@example.com", "stays@example.com"])
    second = make_campaign(owner, emails=["left@example.com"])
    assert transitions.mark_unsubscribed(campaign_id=first.pk, emails=["left@example.com"]) == 1
    statuses = dict(CampaignRecipient.objects.values_list("campaign_id", "status").filter(email="left@example.com"))
    assert statuses == {first.pk: "unsubscribed", second.pk: "pending"}
