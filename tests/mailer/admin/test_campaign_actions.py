"""Campaign actions through the admin: each answers in Russian and is in the audit log."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.urls import reverse

from backoffice.models import Company, Contact
from mailer.engine import sender
from mailer.models import Campaign, CampaignQueue, SendLog
from tests.conftest import make_campaign, msk

pytestmark = pytest.mark.django_db

CONFIRM = {"_form_submitted": "on", "confirm": "on"}  # the start asks to confirm empty variables


def detail(campaign, action):
    return reverse("admin:mailer_campaign_changelist") + f"{campaign.pk}/{action}/"


def said(response):
    """The messages the user sees on the page the action redirects to."""
    from django.test import Client

    assert response.status_code == 302, response.status_code
    client = response.client if hasattr(response, "client") else Client()
    page = client.get(response["Location"])
    return [str(m) for m in page.context["messages"]]


def test_get_on_an_action_only_shows_its_dialog(client, manager_a, campaign_a, mail_account, clock):
    client.force_login(manager_a)
    page = client.get(detail(campaign_a, "start")).content.decode()
    assert "Запустить кампанию?" in page
    campaign_a.refresh_from_db()
    assert campaign_a.status == Campaign.Status.DRAFT


def test_start_from_the_campaign_page(client, manager_a, campaign_a, mail_account, clock):
    client.force_login(manager_a)
    response = client.post(detail(campaign_a, "start"), CONFIRM)

    assert response.status_code == 302
    assert said(response) == ["Кампания «Кампания А» поставлена в очередь на отправку."]
    campaign_a.refresh_from_db()
    assert campaign_a.status == Campaign.Status.READY
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.get_change_message()) == (
        manager_a,
        str(campaign_a.pk),
        "Запуск кампании",
    )


def test_htmx_dialog_post_redirects_the_whole_page(client, manager_a, campaign_a, mail_account, clock):
    client.force_login(manager_a)
    response = client.post(detail(campaign_a, "start"), CONFIRM, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("admin:mailer_campaign_change", args=[campaign_a.pk])


def test_refusals_are_explained(client, manager_a, mail_account, clock):
    client.force_login(manager_a)
    empty = make_campaign(manager_a, name="Пустая")
    assert said(client.post(detail(empty, "start"), CONFIRM)) == [
        "Нет писем в очереди: в кампании нет получателей, ожидающих отправки."
    ]
    assert not LogEntry.objects.exists()


def test_throttle_refusal_says_how_long_to_wait(client, manager_a, mail_account, clock, settings):
    settings.MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR = 1
    client.force_login(manager_a)
    said(client.post(detail(make_campaign(manager_a, recipients=1, name="Первая"), "start"), CONFIRM))
    clock.move_to(msk(2026, 11, 30, 10, 40))
    second = make_campaign(manager_a, recipients=1, name="Вторая")
    assert said(client.post(detail(second, "start"), CONFIRM)) == [
        "Слишком часто: не больше 1 в час. Попробуйте через 20 мин., после 11:00."
    ]


def test_redis_down_answers_service_unavailable(client, manager_a, campaign_a, mail_account, clock, redis_down):
    client.force_login(manager_a)
    assert said(client.post(detail(campaign_a, "start"), CONFIRM)) == [
        "Сервис временно недоступен. Попробуйте через несколько минут."
    ]


def test_over_the_recipient_limit_gives_the_numbers(client, manager_a, campaign_a, mail_account, clock, settings):
    settings.MAILER_MAX_CAMPAIGN_RECIPIENTS = 2
    client.force_login(manager_a)
    assert said(client.post(detail(campaign_a, "start"), CONFIRM)) == [
        "В кампании 3 получателей — это больше лимита 2. Разделите список на несколько кампаний."
    ]


def test_pause_and_resume_a_deferred_campaign(client, manager_a, campaign_a, mail_account, clock):
    client.force_login(manager_a)
    said(client.post(detail(campaign_a, "start"), CONFIRM))
    CampaignQueue.objects.filter(campaign=campaign_a).update(
        defer_reason="outside_hours", deferred_until=msk(2026, 12, 1, 9, 0)
    )
    resumed = client.post(detail(campaign_a, "resume"), CONFIRM)
    assert "возобновлена" in said(resumed)[0]
    queue = CampaignQueue.objects.get(campaign=campaign_a)
    assert (queue.defer_reason, queue.deferred_until) == ("", None)

    client.post(detail(campaign_a, "pause"), CONFIRM)
    campaign_a.refresh_from_db()
    assert campaign_a.status == Campaign.Status.PAUSED
    assert [e.get_change_message() for e in LogEntry.objects.order_by("id")] == [
        "Запуск кампании",
        "Возобновление кампании",
        "Пауза кампании",
    ]


def test_test_email_dialog_sends_and_validates(client, manager_a, campaign_a, inbox, clock):
    client.force_login(manager_a)
    bad = client.post(detail(campaign_a, "test-email"), {**CONFIRM, "to": "not-an-address"})
    assert "Введите корректный адрес e-mail." in bad.content.decode()
    assert inbox.received == []

    response = client.post(detail(campaign_a, "test-email"), {**CONFIRM, "to": "me@crm.example"})
    assert said(response) == ["Тестовое письмо отправлено на me@crm.example."]
    assert inbox.addresses() == ["me@crm.example"]
    assert SendLog.objects.get().kind == "test"
    assert cache.get("crm:mailer:rate:hour:2026-11-30:10") == 1


def test_retry_failed_from_the_page(client, manager_a, inbox, clock):
    inbox.refuse["busy@example.com"] = "451 4.3.0 Try again"
    campaign = make_campaign(manager_a, emails=["busy@example.com", "ok@example.com"])
    client.force_login(manager_a)
    said(client.post(detail(campaign, "start"), CONFIRM))
    sender.run_sender_pass()
    inbox.refuse.clear()

    assert said(client.post(detail(campaign, "retry-failed"), CONFIRM)) == ["В очередь возвращено писем: 1."]
    sender.run_sender_pass()
    assert sorted(inbox.addresses()) == ["busy@example.com", "ok@example.com"]


def test_retry_leaves_unknown_outcomes_alone_unless_staff_tick_them(client, manager_a, inbox, clock):
    inbox.drop_after_data.add("lost@example.com")
    inbox.refuse["busy@example.com"] = "451 4.3.0 Try again"
    campaign = make_campaign(manager_a, emails=["lost@example.com", "busy@example.com", "ok@example.com"])
    client.force_login(manager_a)
    said(client.post(detail(campaign, "start"), CONFIRM))
    sender.run_sender_pass()
    inbox.drop_after_data.clear()
    inbox.refuse.clear()

    page = client.get(detail(campaign, "retry-failed")).content.decode()
    assert "включая неизвестные" in page
    assert said(client.post(detail(campaign, "retry-failed"), CONFIRM)) == ["В очередь возвращено писем: 1."]
    assert campaign.recipients.get(email="lost@example.com").status == "unknown"
    sender.run_sender_pass()
    assert said(client.post(detail(campaign, "retry-failed"), CONFIRM)) == [
        "Нет писем для повтора. 1 с неизвестным исходом (письмо могло дойти) повторяются, "
        "только если отметить «включая неизвестные»."
    ]
    ticked = {**CONFIRM, "include_unknown": "on"}
    assert said(client.post(detail(campaign, "retry-failed"), ticked)) == ["В очередь возвращено писем: 1."]
    sender.run_sender_pass()
    assert inbox.addresses().count("lost@example.com") == 2


def test_add_recipients_by_hand(client, manager_a, campaign_a):
    client.force_login(manager_a)
    lines = "Иван Петров <Ivan@Example.ru>\nolga@example.ru\nolga@example.ru\nbad@@x\n"
    response = client.post(detail(campaign_a, "add-recipients"), {**CONFIRM, "lines": lines})
    assert said(response) == [
        "Добавлено получателей: 2; повторы пропущены: 1; некорректные адреса не добавлены: bad@@x."
    ]
    assert campaign_a.recipients.get(email="ivan@example.ru").name == "Иван Петров"


def test_generate_from_companies_by_filter(client, manager_a, campaign_a):
    kazan = Company.objects.create(name="Казань-Опт", email="opt@kazan.ru", city="Казань", industry="Опт")
    Contact.objects.create(company=kazan, full_name="Айдар", email="aidar@kazan.ru")
    Company.objects.create(name="Тула-Опт", email="opt@tula.ru", city="Тула", industry="Опт")
    client.force_login(manager_a)
    response = client.post(detail(campaign_a, "from-companies"), {**CONFIRM, "cities": ["Казань"], "industry": ""})
    assert said(response) == ["Добавлено получателей: 2."]
    assert set(campaign_a.recipients.filter(company=kazan).values_list("email", flat=True)) == {
        "opt@kazan.ru",
        "aidar@kazan.ru",
    }


def test_company_list_action_adds_to_a_chosen_draft(client, manager_a, campaign_a, campaign_b):
    acme = Company.objects.create(name="Акме", email="info@acme.ru")
    client.force_login(manager_a)
    url = reverse("admin:backoffice_company_changelist")
    picker = client.post(url, {"action": "add_to_campaign", "_selected_action": [acme.pk]})
    page = picker.content.decode()
    assert "Кампания А" in page and "Кампания Б" not in page  # only the manager's own drafts

    done = client.post(
        url,
        {"action": "add_to_campaign", "_selected_action": [acme.pk], "apply": "1", "campaign": campaign_a.pk},
        follow=True,
    )
    assert "Кампания «Кампания А». Добавлено получателей: 1." in [str(m) for m in done.context["messages"]]
    assert campaign_a.recipients.filter(email="info@acme.ru").exists()


def test_bulk_start_from_the_list(client, manager_a, mail_account, clock):
    campaigns = [make_campaign(manager_a, recipients=1, name=f"K{i}") for i in range(2)]
    client.force_login(manager_a)
    client.post(
        reverse("admin:mailer_campaign_changelist"),
        {"action": "start_selected", "_selected_action": [c.pk for c in campaigns]},
    )
    assert set(Campaign.objects.values_list("status", flat=True)) == {"ready"}
    assert LogEntry.objects.filter(change_message="Запуск кампании").count() == 2


def test_create_and_edit_are_audited_with_the_actor(client, manager_a):
    client.force_login(manager_a)
    form = {
        "name": "Новая",
        "subject": "Тема",
        "body_html": "<p>Привет, {{ name }}</p>",
        "body_text": "",
        "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0,
        "recipients-TOTAL_FORMS": 0,
        "recipients-INITIAL_FORMS": 0,
    }
    assert client.post(reverse("admin:mailer_campaign_add"), form).status_code == 302
    campaign = Campaign.objects.get(name="Новая")
    assert campaign.created_by == manager_a
    form["subject"] = "Новая тема"
    client.post(reverse("admin:mailer_campaign_change", args=[campaign.pk]), form)
    assert [(e.user, e.action_flag) for e in LogEntry.objects.order_by("id")] == [(manager_a, 1), (manager_a, 2)]


def test_broken_template_is_refused_on_save(client, manager_a):
    client.force_login(manager_a)
    form = {
        "name": "X",
        "subject": "Тема",
        "body_html": "{% if %}",
        "body_text": "",
        "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0,
        "recipients-TOTAL_FORMS": 0,
        "recipients-INITIAL_FORMS": 0,
    }
    page = client.post(reverse("admin:mailer_campaign_add"), form).content.decode()
    assert "Ошибка в шаблоне письма" in page
    assert not Campaign.objects.exists()


def test_attachment_is_added_with_the_campaign(client, manager_a, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    client.force_login(manager_a)
    form = {
        "name": "С вложением",
        "subject": "Тема",
        "body_html": "<p>Прайс во вложении</p>",
        "body_text": "",
        "attachments-TOTAL_FORMS": 1,
        "attachments-INITIAL_FORMS": 0,
        "attachments-0-file": SimpleUploadedFile("price.pdf", b"%PDF-1.4 price"),
        "recipients-TOTAL_FORMS": 0,
        "recipients-INITIAL_FORMS": 0,
    }
    assert client.post(reverse("admin:mailer_campaign_add"), form).status_code == 302
    attachment = Campaign.objects.get(name="С вложением").attachments.get()
    assert attachment.file.read() == b"%PDF-1.4 price"


def test_a_campaign_being_sent_cannot_be_deleted(client, manager_a, campaign_a, mail_account, clock):
    client.force_login(manager_a)
    said(client.post(detail(campaign_a, "start"), CONFIRM))
    delete_url = reverse("admin:mailer_campaign_delete", args=[campaign_a.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=campaign_a.pk).exists()
    actions = client.get(reverse("admin:mailer_campaign_changelist")).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _ in actions]


def test_row_dialog_returns_to_the_list_and_ignores_foreign_referers(client, manager_a, mail_account, clock):
    client.force_login(manager_a)
    listing = "http://testserver" + reverse("admin:mailer_campaign_changelist")
    first, second = make_campaign(manager_a, recipients=1, name="A"), make_campaign(manager_a, recipients=1, name="B")
    assert client.post(detail(first, "start"), CONFIRM, HTTP_REFERER=listing)["Location"] == listing
    foreign = client.post(detail(second, "start"), CONFIRM, HTTP_REFERER="https://evil.example/admin/mailer/campaign/")
    assert foreign["Location"] == reverse("admin:mailer_campaign_change", args=[second.pk])
    assert set(Campaign.objects.values_list("status", flat=True)) == {"ready"}


def test_a_test_to_several_addresses_as_a_chosen_recipient(client, manager_a, inbox, clock):
    campaign = make_campaign(manager_a, emails=["anna@example.com", "boris@example.com"], subject="Для {{ name }}")
    campaign.recipients.filter(email="boris@example.com").update(name="Борис")
    client.force_login(manager_a)
    posted = {
        **CONFIRM,
        "to": "me@crm.example, boss@crm.example\nlead@crm.example",
        "as_recipient": "Boris@Example.com",
    }
    response = client.post(detail(campaign, "test-email"), posted)
    assert said(response) == ["Тестовое письмо отправлено на me@crm.example, boss@crm.example, lead@crm.example."]
    assert sorted(inbox.addresses()) == ["boss@crm.example", "lead@crm.example", "me@crm.example"]
    assert {r.message["Subject"] for r in inbox.received} == {"[Тест] Для Борис"}
    assert cache.get("crm:mailer:rate:hour:2026-11-30:10") == 3
    assert SendLog.objects.filter(kind="test").count() == 3

    too_many = ", ".join(f"t{i}@crm.example" for i in range(6))
    assert "Не больше 5 адресов сразу." in client.post(detail(campaign, "test-email"), {**CONFIRM, "to": too_many}).text
    stranger = client.post(
        detail(campaign, "test-email"), {**CONFIRM, "to": "me@crm.example", "as_recipient": "x@y.ru"}
    )
    assert "Такого получателя в кампании нет." in stranger.text


def test_each_address_of_a_test_counts_in_the_throttle(client, manager_a, inbox, clock):
    campaign = make_campaign(manager_a, emails=["anna@example.com"])
    client.force_login(manager_a)
    said(client.post(detail(campaign, "test-email"), {**CONFIRM, "to": "a@crm.example, b@crm.example, c@crm.example"}))
    response = client.post(
        detail(campaign, "test-email"), {**CONFIRM, "to": "d@crm.example e@crm.example f@crm.example"}
    )
    [refusal] = said(response)
    assert refusal.startswith("Отправлено 2 из 3. Слишком часто: не больше 5 в час.")
    assert len(inbox.received) == 5
