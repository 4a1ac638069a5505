"""A template that cannot render (issue 8, finding 2): refused at start and test send; if it
breaks after the start, its campaign pauses with a reason and the others go on."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from backoffice.models import Notification
from mailer import services
from mailer.engine import limits, sender
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignQueue, SendLog
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

LOAD_CACHE = "{% load cache %}{% cache 600 k %}{{ email }}{% endcache %}"
# Compiles, then fails for every recipient: a name cannot be unpacked into two loop variables.
FAILS_WHEN_RENDERED = "<p>{% for first, last in name %}{{ first }}{% endfor %}</p>"


def start(campaign):
    return services.campaign_start(campaign=campaign, user=campaign.created_by)


def break_body(campaign, body_html):
    """What a bug or a direct edit could leave behind: no form, no check."""
    Campaign.objects.filter(pk=campaign.pk).update(body_html=body_html)


# --- refused before anything is queued or sent -------------------------------------------------


@pytest.mark.parametrize(
    "body, named",
    [(LOAD_CACHE, "тег {% load %} в письмах запрещён"), (FAILS_WHEN_RENDERED, "письмо не собирается: ValueError")],
)
def test_start_refuses_a_template_that_would_fail(clock, mail_account, owner, body, named):
    campaign = make_campaign(owner, recipients=2, body_html=body)
    with pytest.raises(MailerError, match="Ошибка в шаблоне письма") as refusal:
        start(campaign)
    assert named in str(refusal.value)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not CampaignQueue.objects.exists()


@pytest.mark.parametrize("body", [LOAD_CACHE, FAILS_WHEN_RENDERED])
def test_test_send_refuses_a_template_that_would_fail_and_counts_nothing(clock, inbox, owner, body):
    campaign = make_campaign(owner, recipients=1, body_html=body)
    with pytest.raises(MailerError, match="Ошибка в шаблоне письма"):
        services.send_test_email(campaign=campaign, user=owner, to="boss@example.ru")
    assert inbox.received == []
    assert not SendLog.objects.exists()
    assert limits.hourly_sent(now=timezone.now()) == 0
    assert cache.get(limits.throttle_key("send_test_email", owner.pk)) is None


# --- broken after the start: paused, nobody left `sending`, the others go on ---------------------


@pytest.mark.parametrize("body", [LOAD_CACHE, FAILS_WHEN_RENDERED, "{% url 'admin:index' %}"])
def test_a_template_broken_after_start_pauses_its_campaign_and_the_next_one_is_sent(
    clock, inbox, owner, other_owner, body
):
    broken = make_campaign(owner, recipients=3, name="Сломанная")
    other = make_campaign(other_owner, emails=["b1@example.org", "b2@example.org"], name="Чужая")
    start(broken)
    start(other)
    break_body(broken, body)

    sender.run_sender_pass()  # one pass: it must not crash, and must reach the second campaign

    assert sorted(inbox.addresses()) == ["b1@example.org", "b2@example.org"]
    queue = CampaignQueue.objects.get(campaign=broken)
    assert queue.status == CampaignQueue.Status.PAUSED
    assert queue.pause_reason == CampaignQueue.PauseReason.TEMPLATE_ERROR
    assert queue.pause_detail.startswith("Ошибка в шаблоне письма («Текст письма (HTML)»")
    assert queue.defer_reason == ""
    assert set(broken.recipients.values_list("status", flat=True)) == {"pending"}
    assert set(broken.recipients.values_list("attempts", flat=True)) == {0}
    broken.refresh_from_db()
    assert broken.status == Campaign.Status.PAUSED
    note = Notification.objects.get(user=owner, kind="template_error")
    assert note.title == "Кампания «Сломанная» остановлена"
    assert note.text == f"{queue.pause_detail} Исправьте шаблон и возобновите кампанию."
    assert not Notification.objects.filter(user=other_owner, kind="template_error").exists()


def test_a_recipient_whose_data_breaks_the_template_pauses_before_it_is_claimed(clock, inbox, owner):
    # The first recipient renders; the second one's variables make the loop fail.
    campaign = make_campaign(
        owner,
        emails=["a@example.org", "b@example.org"],
        body_html="{% for first, last in pairs %}{{ first }}{% endfor %}",
    )
    campaign.recipients.filter(email="a@example.org").update(variables={"pairs": [["Иван", "Петров"]]})
    campaign.recipients.filter(email="b@example.org").update(variables={"pairs": ["Иван"]})
    start(campaign)

    sender.run_sender_pass()

    assert inbox.addresses() == ["a@example.org"]
    assert dict(campaign.recipients.values_list("email", "status")) == {
        "a@example.org": "sent",
        "b@example.org": "pending",
    }
    assert CampaignQueue.objects.get(campaign=campaign).pause_reason == "template_error"


def test_resume_refuses_while_the_template_is_broken_and_clears_the_reason_once_fixed(clock, inbox, owner):
    campaign = make_campaign(owner, recipients=2)
    start(campaign)
    break_body(campaign, LOAD_CACHE)
    sender.run_sender_pass()

    with pytest.raises(MailerError, match=r"тег \{% load %\} в письмах запрещён"):
        services.campaign_resume(campaign=campaign, user=owner)

    break_body(campaign, "<p>Исправлено, {{ name }}</p>")
    services.campaign_resume(campaign=campaign, user=owner)
    queue = CampaignQueue.objects.get(campaign=campaign)
    assert (queue.status, queue.pause_reason, queue.pause_detail) == ("pending", "", "")
    sender.run_sender_pass()
    assert len(inbox.received) == 2
