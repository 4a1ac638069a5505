"""The campaign page tells the truth: a finish with errors says so and what a retry will do,
a draft is at 0 % whatever its unsubscribed, and empty variables are named (with how many
recipients) in the preview and in the start dialog, which then asks to confirm."""

import pytest
from django.urls import reverse

from mailer import selectors
from mailer.models import Campaign, CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

Recipient = CampaignRecipient.Status
EMPTY_CITY = "{{ city }} пусто у 2 из 3 получателей"


def action_url(campaign, path):
    return reverse("admin:mailer_campaign_change", args=[campaign.pk]).removesuffix("change/") + path


@pytest.fixture
def finished_with_errors(manager_a):
    campaign = make_campaign(
        manager_a, emails=["a@example.com", "b@example.com", "c@example.com"], status=Campaign.Status.SENDING
    )
    campaign.recipients.filter(email="a@example.com").update(status=Recipient.SENT)
    campaign.recipients.filter(email="b@example.com").update(status=Recipient.FAILED, error_kind="transient")
    campaign.recipients.filter(email="c@example.com").update(status=Recipient.FAILED, error_kind="invalid")
    CampaignQueue.objects.create(campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0), status="completed")
    return campaign


def test_a_finish_with_errors_is_labelled_and_the_retry_says_what_it_will_do(client, manager_a, finished_with_errors):
    client.force_login(manager_a)
    listing = client.get(reverse("admin:mailer_campaign_changelist")).content.decode()
    assert "Завершена с ошибками (2)" in listing
    page = client.get(reverse("admin:mailer_campaign_change", args=[finished_with_errors.pk])).content.decode()
    assert "«Повторить неудачные»: Вернутся в очередь: 1" in page
    polled = client.get(reverse("mailer_poll") + f"?campaign={finished_with_errors.pk}").json()["campaign"]
    assert (polled["status_text"], polled["percent"]) == ("Завершена с ошибками (2)", 100)

    dialog = client.get(action_url(finished_with_errors, "retry-failed/")).content.decode()
    assert "Вернутся в очередь: 1 — временные ошибки." in dialog
    assert "Не повторяются: 1 — адрес отклонён сервером или некорректен." in dialog


def test_a_draft_is_at_zero_percent_whatever_its_unsubscribed(manager_a):
    campaign = make_campaign(manager_a, recipients=16)
    campaign.recipients.filter(email="client0@example.com").update(status=Recipient.UNSUBSCRIBED)
    progress = selectors.campaign_progress(campaign)
    assert (progress.percent, progress.unsubscribed, progress.pending) == (0, 1, 15)


@pytest.fixture
def city_campaign(manager_a):
    campaign = make_campaign(
        manager_a,
        emails=["a@example.com", "b@example.com", "c@example.com"],
        subject="Приглашение",
        body_html="<p>Здравствуйте, {{ name }}! Ждём вас (г. {{ city }}).</p>",
    )
    campaign.recipients.filter(email="a@example.com").update(variables={"city": "Казань"})
    return campaign


def test_empty_variables_are_named_in_the_preview_and_the_start_asks_to_confirm(
    client, manager_a, city_campaign, mail_account, clock
):
    client.force_login(manager_a)
    page = client.get(reverse("admin:mailer_campaign_change", args=[city_campaign.pk])).content.decode()
    assert EMPTY_CITY in page

    dialog = client.get(action_url(city_campaign, "start/")).content.decode()
    assert EMPTY_CITY in dialog and "Всё равно запустить" in dialog
    refused = client.post(action_url(city_campaign, "start/"), {"_form_submitted": "on"})
    assert refused.status_code == 200 and "Подтвердите: у части получателей переменные пустые." in refused.text
    assert Campaign.objects.get(pk=city_campaign.pk).status == Campaign.Status.DRAFT

    confirmed = client.post(action_url(city_campaign, "start/"), {"_form_submitted": "on", "confirm": "on"})
    assert confirmed.status_code == 302
    assert Campaign.objects.get(pk=city_campaign.pk).status == Campaign.Status.READY


def test_the_schedule_dialog_warns_too(client, manager_a, city_campaign, mail_account, clock):
    client.force_login(manager_a)
    posted = {"_form_submitted": "on", "at": "2026-12-03T10:00"}
    refused = client.post(action_url(city_campaign, "schedule/"), posted)
    assert EMPTY_CITY in refused.text and Campaign.objects.get(pk=city_campaign.pk).status == "draft"
    client.post(action_url(city_campaign, "schedule/"), {**posted, "confirm": "on"})
    assert Campaign.objects.get(pk=city_campaign.pk).scheduled_at == msk(2026, 12, 3, 10, 0)


def test_no_confirmation_is_asked_when_every_variable_is_filled(client, manager_a, mail_account, clock):
    campaign = make_campaign(manager_a, recipients=2, subject="Тема", body_html="<p>{{ name }}</p>")
    client.force_login(manager_a)
    assert "Всё равно запустить" not in client.get(action_url(campaign, "start/")).content.decode()
    assert client.post(action_url(campaign, "start/"), {"_form_submitted": "on"}).status_code == 302


def test_the_help_text_shows_a_default(client, manager_a):
    client.force_login(manager_a)
    page = client.get(reverse("admin:mailer_campaign_add")).content.decode()
    assert "{{ name|default:&quot;коллеги&quot; }}" in page


def test_the_add_recipients_help_keeps_its_example_address(client, manager_a, campaign_a):
    client.force_login(manager_a)
    dialog = client.get(action_url(campaign_a, "add-recipients/")).content.decode()
    assert "«Иван Петров &lt;ivan@example.ru&gt;»" in dialog


def test_the_preview_shows_a_chosen_recipient_and_the_text_part(client, manager_a):
    campaign = make_campaign(
        manager_a,
        emails=["anna@example.com", "boris@example.com"],
        subject="Для {{ name }}",
        body_text="Привет, {{ name }}",
    )
    campaign.recipients.filter(email="boris@example.com").update(name="Борис <b>")
    client.force_login(manager_a)
    url = reverse("admin:mailer_campaign_change", args=[campaign.pk])
    first = client.get(url).content.decode()
    assert "<b>Тема:</b> Для Клиент 0" in first and '<option value="boris@example.com">' in first

    chosen = client.get(url + "?preview_as=Boris@Example.com").content.decode()
    assert "<b>Тема:</b> Для Борис &lt;b&gt;" in chosen
    assert "Данные получателя boris@example.com." in chosen
    assert '<pre id="campaign-preview-text"' in chosen and "Привет, Борис &lt;b&gt;" in chosen
    missing = client.get(url + "?preview_as=nobody@example.com").content.decode()
    assert "Получатель «nobody@example.com» не найден — показан первый." in missing
