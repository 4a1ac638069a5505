"""Every campaign state × every action: the button shows (on the campaign page and in the
row menu of the list) exactly when the service accepts the action; otherwise it is hidden,
the service refuses in Russian, and a stale page posting it gets that refusal, not a 403."""

import pytest
from django.urls import reverse

from mailer import services
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

Status = Campaign.Status
Queue = CampaignQueue.Status

# status, and the queue row (None: never started)
STATES = {
    "draft": (Status.DRAFT, None),
    "ready, waiting": (Status.READY, {"status": Queue.PENDING}),
    "ready, deferred": (
        Status.READY,
        {"status": Queue.PENDING, "defer_reason": "outside_hours", "deferred_until": msk(2026, 12, 1, 9, 0)},
    ),
    "ready, scheduled": (
        Status.READY,
        {"status": Queue.PENDING, "defer_reason": "scheduled", "deferred_until": msk(2026, 12, 3, 10, 0)},
    ),
    "sending": (Status.SENDING, {"status": Queue.PROCESSING}),
    "sending, deferred": (
        Status.SENDING,
        {"status": Queue.PENDING, "defer_reason": "rate_per_hour", "deferred_until": msk(2026, 11, 30, 11, 0)},
    ),
    "sending, finished with errors": (Status.SENDING, {"status": Queue.COMPLETED}),
    "paused by staff": (Status.PAUSED, {"status": Queue.PAUSED}),
    "paused by the circuit breaker": (Status.PAUSED, {"status": Queue.PAUSED, "defer_reason": "circuit_breaker"}),
    "paused by a template error": (
        Status.PAUSED,
        {"status": Queue.PAUSED, "pause_reason": "template_error", "pause_detail": "Ошибка в шаблоне письма."},
    ),
    "sent": (Status.SENT, {"status": Queue.COMPLETED}),
}

PAUSED_ACTIONS = {"resume", "retry", "add_recipients", "delete", "duplicate"}
# What each state allows: the table of the issue's closing note.
ALLOWED = {
    "draft": {"start", "schedule", "add_recipients", "delete", "duplicate"},
    "ready, waiting": {"pause", "duplicate"},
    "ready, deferred": {"pause", "resume", "duplicate"},
    "ready, scheduled": {"unschedule", "duplicate"},
    "sending": {"pause", "retry", "duplicate"},
    "sending, deferred": {"pause", "resume", "retry", "duplicate"},
    "sending, finished with errors": {"retry", "duplicate"},
    "paused by staff": PAUSED_ACTIONS,
    "paused by the circuit breaker": PAUSED_ACTIONS,
    "paused by a template error": PAUSED_ACTIONS,
    "sent": {"delete", "duplicate"},
}
ACTIONS = ("start", "schedule", "unschedule", "pause", "resume", "retry", "add_recipients", "delete", "duplicate")
# The URLs of each action's buttons on the campaign page (under /admin/mailer/campaign/<id>/).
PATHS = {
    "start": ["start/"],
    "schedule": ["schedule/"],
    "unschedule": ["unschedule/"],
    "duplicate": ["duplicate/"],
    "pause": ["pause/"],
    "resume": ["resume/"],
    "retry": ["retry-failed/"],
    "add_recipients": ["add-recipients/", "from-companies/", "import-recipients/"],
    "delete": ["delete/"],
}
IN_ROW_MENU = ("start", "schedule", "unschedule", "pause", "resume", "duplicate")
PLANNED_FOR = msk(2026, 12, 3, 10, 0)
SERVICES = {
    "start": services.campaign_start,
    "schedule": lambda campaign, user: services.campaign_schedule(campaign=campaign, user=user, at=PLANNED_FOR),
    "unschedule": services.campaign_unschedule,
    "duplicate": services.campaign_duplicate,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "retry": services.campaign_retry_failed,
}


@pytest.fixture
def campaign_in(manager_a, mail_account, clock):
    """A campaign of manager_a in the named state, with a recipient waiting and one whose
    send failed temporarily (so every action has something to work on)."""

    def build(state):
        status, queue = STATES[state]
        campaign = make_campaign(manager_a, emails=["waiting@example.com", "busy@example.com"], status=status)
        campaign.recipients.filter(email="busy@example.com").update(
            status=CampaignRecipient.Status.FAILED, error_kind="transient", last_error="451 Try later"
        )
        if queue is not None:
            CampaignQueue.objects.create(campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0), **queue)
        return Campaign.objects.get(pk=campaign.pk)

    return build


def action_url(campaign, path):
    return reverse("admin:mailer_campaign_change", args=[campaign.pk]).removesuffix("change/") + path


def accepted(action, campaign, user, client):
    if action == "delete":
        response = client.post(reverse("admin:mailer_campaign_delete", args=[campaign.pk]), {"post": "yes"})
        assert response.status_code in (302, 403)
        return response.status_code == 302 and not Campaign.objects.filter(pk=campaign.pk).exists()
    try:
        if action == "add_recipients":
            recipients = [services.NewRecipient(email="new@example.com")]
            services.add_recipients(campaign=campaign, recipients=recipients)
        else:
            SERVICES[action](campaign=campaign, user=user)
    except MailerError as refusal:
        assert str(refusal)  # a refusal always says why
        return False
    return True


def test_the_table_names_every_state():
    assert set(ALLOWED) == set(STATES)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
def test_a_button_shows_exactly_when_the_service_accepts(client, manager_a, campaign_in, state, action):
    campaign = campaign_in(state)
    client.force_login(manager_a)
    page = client.get(reverse("admin:mailer_campaign_change", args=[campaign.pk])).content.decode()
    listing = client.get(reverse("admin:mailer_campaign_changelist")).content.decode()
    expected = action in ALLOWED[state]

    shown = {path: action_url(campaign, path) in page for path in PATHS[action]}
    assert shown == dict.fromkeys(PATHS[action], expected), f"{state}: {action} on the page"
    if action in IN_ROW_MENU:
        in_menu = action_url(campaign, PATHS[action][0]) in listing
        assert in_menu == expected, f"{state}: {action} in the row menu"
    assert accepted(action, campaign, manager_a, client) == expected, f"{state}: {action} by the service"


@pytest.mark.parametrize("state", STATES)
def test_a_stale_page_posting_a_hidden_button_gets_the_refusal_in_russian(client, manager_a, campaign_in, state):
    campaign = campaign_in(state)
    client.force_login(manager_a)
    for action in sorted(set(SERVICES) - ALLOWED[state]):
        posted = {"_form_submitted": "on", "at": "2026-12-03T10:00"}
        response = client.post(action_url(campaign, PATHS[action][0]), posted)
        assert response.status_code == 302, f"{state}: {action}"
        said = [str(m) for m in client.get(response["Location"]).context["messages"]]
        assert len(said) == 1 and ("нельзя" in said[0] or "нечего" in said[0]), f"{state}: {action}: {said}"
    assert Campaign.objects.get(pk=campaign.pk).status == STATES[state][0]


def test_the_recipients_tab_and_the_attachments_change_only_while_the_campaign_may(client, manager_a, campaign_in):
    client.force_login(manager_a)
    for state, (status, _) in STATES.items():
        campaign = campaign_in(state)
        inlines = client.get(reverse("admin:mailer_campaign_change", args=[campaign.pk])).context[
            "inline_admin_formsets"
        ]
        editable = {formset.opts.model.__name__: formset.has_add_permission for formset in inlines}
        may = status in (Status.DRAFT, Status.PAUSED)
        assert editable == {"CampaignAttachment": may, "CampaignRecipient": may}, state


def test_the_recipients_screen_edits_a_recipient_only_while_its_campaign_may_change(client, manager_a, campaign_in):
    client.force_login(manager_a)
    for state, (status, _) in STATES.items():
        recipient = campaign_in(state).recipients.get(email="waiting@example.com")
        url = reverse("admin:mailer_campaignrecipient_change", args=[recipient.pk])
        may = status in (Status.DRAFT, Status.PAUSED)
        assert client.get(url).context["has_change_permission"] is may, state
        posted = client.post(url, {"campaign": recipient.campaign_id, "email": "changed@example.com", "name": "X"})
        assert (posted.status_code, CampaignRecipient.objects.get(pk=recipient.pk).email == "changed@example.com") == (
            (302, True) if may else (403, False)
        ), state
