"""What staff expect of a campaign tool (issue 12), in headless Chromium with a screenshot of
every step (test-output/screenshots/3x-…): the start warns of empty variables and asks to
confirm, the preview and a test e-mail as a chosen recipient, a plan in Moscow time shown in
the list, the queue and the dashboard, «Отменить расписание», «Дублировать», and a campaign
finished with errors that says so and what a retry will do. No script error and no CSP
violation on any of these pages."""

import pytest

from mailer.models import Campaign, CampaignQueue, CampaignRecipient
from tests.browser.conftest import shot
from tests.browser.test_security import Watch, log_in, make_user
from tests.conftest import make_campaign, msk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BODY = "<p>Здравствуйте, {{ name }}!</p><p>Ждём вас на встрече (г. {{ city }}).</p>"


@pytest.fixture
def spring(transactional_db, clock):
    olga = make_user("olga")
    campaign = make_campaign(
        olga,
        emails=["anna@example.ru", "boris@example.ru", "vera@example.ru"],
        name="Весенняя",
        subject="Приглашение для {{ name }}",
        body_html=BODY,
    )
    campaign.recipients.filter(email="anna@example.ru").update(name="Анна", variables={"city": "Казань"})
    campaign.recipients.filter(email="boris@example.ru").update(name="Борис", variables={"city": "Тула"})
    return campaign


def dialog_submit(page):
    page.click("#dialog button[type=submit]")


def test_warnings_preview_as_a_recipient_and_a_test_to_several(live_server, browser_page, spring, inbox):
    page, admin = browser_page, live_server.url + "/admin/"
    watch = Watch(page)
    log_in(page, live_server, "olga")
    change = admin + f"mailer/campaign/{spring.pk}/change/"

    page.goto(change)
    page.click("a:has-text('Предпросмотр')")
    page.wait_for_selector("#campaign-preview-warnings:has-text('{{ city }} пусто у 1 из 3 получателей')")
    shot(page, "30-preview-warnings")
    page.fill("#preview-as", "boris@example.ru")
    page.click("#preview-as-go")
    page.wait_for_selector("#preview-as-whose:has-text('Данные получателя boris@example.ru.')")
    page.frame_locator("iframe[sandbox]").locator("text=Ждём вас на встрече (г. Тула).").wait_for()
    assert "Здравствуйте, Борис!" in page.locator("#campaign-preview-text").inner_text()
    shot(page, "31-preview-as-boris")

    page.click("a:has-text('Тестовое письмо')")
    page.fill("#dialog textarea[name=to]", "olga@crm.example, boss@crm.example")
    page.fill("#dialog input[name=as_recipient]", "boris@example.ru")
    shot(page, "32-test-email-to-two-as-boris")
    dialog_submit(page)
    page.wait_for_selector("text=Тестовое письмо отправлено на olga@crm.example, boss@crm.example.")
    assert {r.message["Subject"].strip() for r in inbox.received} == {"[Тест] Приглашение для Борис"}

    page.click("a:has-text('Запустить')")
    page.wait_for_selector("#dialog-notes:has-text('{{ city }} пусто у 1 из 3 получателей')")
    dialog_submit(page)
    page.wait_for_selector("text=Подтвердите: у части получателей переменные пустые.")
    shot(page, "33-start-asks-to-confirm")
    page.click("#dialog label:has-text('Всё равно запустить')")
    dialog_submit(page)
    page.wait_for_selector("text=поставлена в очередь")
    assert Campaign.objects.get(pk=spring.pk).status != Campaign.Status.DRAFT  # the start woke the sender
    assert watch.csp_problems() == [], watch.csp_problems()


def test_plan_see_it_everywhere_cancel_and_duplicate(live_server, browser_page, spring, mail_account):
    page, admin = browser_page, live_server.url + "/admin/"
    watch = Watch(page)
    log_in(page, live_server, "olga")
    page.goto(admin + f"mailer/campaign/{spring.pk}/change/")

    page.click("a:has-text('Запланировать')")
    page.wait_for_selector("#dialog input[type=datetime-local]")
    page.fill("#dialog input[name=at]", "2026-12-03T10:00")
    page.click("#dialog label:has-text('Всё равно запланировать')")
    shot(page, "34-schedule-dialog")
    dialog_submit(page)
    page.wait_for_selector("text=Кампания «Весенняя» запланирована на 03.12.2026 в 10:00 (МСК).")
    page.wait_for_selector("#campaign-progress-status:has-text('Запланирована на 03.12.2026 в 10:00 (МСК)')")
    shot(page, "35-scheduled-campaign")
    assert Campaign.objects.get(pk=spring.pk).scheduled_at == msk(2026, 12, 3, 10, 0)

    page.goto(admin + "mailer/campaign/")
    page.wait_for_selector("text=Запланирована на 03.12.2026 в 10:00 (МСК)")
    shot(page, "36-list-with-a-plan")
    page.goto(admin + "mailer/campaignqueue/")
    page.wait_for_selector("text=Запланирована на 03.12.2026 в 10:00 (МСК).")
    shot(page, "37-queue-with-a-plan")
    page.goto(admin)
    page.wait_for_selector("#dash-planned:has-text('Весенняя — 03.12.2026 в 10:00 (МСК)')")
    shot(page, "38-dashboard-with-a-plan")

    page.goto(admin + f"mailer/campaign/{spring.pk}/change/")
    page.click("a:has-text('Отменить расписание')")
    dialog_submit(page)
    page.wait_for_selector("text=Расписание кампании «Весенняя» отменено: она снова черновик.")
    assert Campaign.objects.get(pk=spring.pk).status == Campaign.Status.DRAFT

    page.click("a:has-text('Ещё')")
    page.click("a:has-text('Дублировать')")
    page.click("#dialog label:has-text('Вместе с получателями')")
    shot(page, "39-duplicate-dialog")
    dialog_submit(page)
    page.wait_for_selector("text=Создан черновик «Копия: Весенняя».")
    copy = Campaign.objects.get(name="Копия: Весенняя")
    assert page.url.endswith(f"/mailer/campaign/{copy.pk}/change/")
    assert copy.recipients.count() == 3
    shot(page, "40-the-copy")
    assert watch.csp_problems() == [], watch.csp_problems()


def test_a_finish_with_errors_says_so_and_what_a_retry_will_do(live_server, browser_page, spring):
    page, admin = browser_page, live_server.url + "/admin/"
    watch = Watch(page)
    Campaign.objects.filter(pk=spring.pk).update(status=Campaign.Status.SENDING)
    spring.recipients.filter(email="anna@example.ru").update(status=CampaignRecipient.Status.SENT)
    spring.recipients.filter(email="boris@example.ru").update(status="failed", error_kind="transient")
    spring.recipients.filter(email="vera@example.ru").update(status="failed", error_kind="permanent")
    CampaignQueue.objects.create(campaign=spring, queued_at=msk(2026, 11, 30, 9, 0), status="completed")
    log_in(page, live_server, "olga")

    page.goto(admin + "mailer/campaign/")
    page.wait_for_selector("text=Завершена с ошибками (2)")
    shot(page, "41-list-finished-with-errors")
    page.goto(admin + f"mailer/campaign/{spring.pk}/change/")
    page.wait_for_selector("#campaign-progress-status:has-text('Завершена с ошибками (2)')")
    page.wait_for_selector("#campaign-retry-notes:has-text('Вернутся в очередь: 1')")
    shot(page, "42-page-finished-with-errors")
    page.click("a:has-text('Повторить неудачные')")
    page.wait_for_selector("#dialog-notes:has-text('Не повторяются: 1')")
    shot(page, "43-retry-dialog")
    assert watch.csp_problems() == [], watch.csp_problems()


def test_the_visual_editor_writes_the_html_and_refuses_what_it_would_mangle(live_server, browser_page, spring):
    page, admin = browser_page, live_server.url + "/admin/"
    watch = Watch(page)
    log_in(page, live_server, "olga")
    page.goto(admin + "mailer/campaign/add/")
    page.fill("input[name=name]", "Визуальная")
    page.fill("input[name=subject]", "Новости")
    page.click("button:has-text('Визуальный редактор')")
    page.click("trix-editor")
    page.keyboard.type("Здравствуйте, ")
    page.select_option("select.body-editor-variable", "name")
    page.keyboard.type("! Скидка для вас.")
    page.click("button[data-trix-attribute=bold]")
    page.keyboard.type("Важно")
    shot(page, "44-visual-editor")
    page.click("button[name=_continue]")
    page.wait_for_selector("text=Сохранено")
    body = Campaign.objects.get(name="Визуальная").body_html
    assert "Здравствуйте, {{ name }}! Скидка для вас." in body and "<strong>Важно</strong>" in body

    hostile = '<table><tr><td>Цена</td></tr></table><img src="/pwned.png"><p onclick="x()">Текст</p>'
    Campaign.objects.filter(pk=spring.pk).update(body_html=hostile)
    page.goto(admin + f"mailer/campaign/{spring.pk}/change/")
    page.click("button:has-text('Визуальный редактор')")
    page.wait_for_selector("text=В визуальном редакторе не открыть: в письме есть обработчики событий (on…).")
    Campaign.objects.filter(pk=spring.pk).update(body_html=hostile.replace(' onclick="x()"', ""))
    page.reload()
    page.click("button:has-text('Визуальный редактор')")
    page.wait_for_selector("text=В визуальном редакторе не открыть: в письме есть table, img.")
    assert page.locator("textarea[name=body_html]").is_visible()
    shot(page, "45-visual-editor-refuses-a-table")
    assert not [request for request in watch.requests if "pwned" in request]
    assert watch.csp_problems() == [], watch.csp_problems()


def test_a_pause_pressed_as_the_campaign_finishes_answers_and_closes_the_dialog(live_server, browser_page, spring):
    page, admin = browser_page, live_server.url + "/admin/"
    refused = []
    page.on("response", lambda response: response.status >= 400 and refused.append((response.status, response.url)))
    Campaign.objects.filter(pk=spring.pk).update(status=Campaign.Status.SENDING)
    CampaignQueue.objects.create(campaign=spring, queued_at=msk(2026, 11, 30, 9, 0), status="processing")
    log_in(page, live_server, "olga")
    page.goto(admin + f"mailer/campaign/{spring.pk}/change/")
    page.click("a:has-text('Пауза')")
    page.wait_for_selector("#dialog button[type=submit]")

    # Meanwhile the sender finishes the last message.
    spring.recipients.update(status=CampaignRecipient.Status.SENT)
    CampaignQueue.objects.filter(campaign=spring).update(status="completed")
    Campaign.objects.filter(pk=spring.pk).update(status=Campaign.Status.SENT)
    dialog_submit(page)
    page.wait_for_selector("text=в статусе «Отправлена» нельзя поставить на паузу")
    page.wait_for_selector("#campaign-progress-status:has-text('Отправлена')")
    page.wait_for_selector("#campaign-progress[data-percent='100']")
    shot(page, "46-pause-after-the-finish")
    assert not page.locator("#dialog").is_visible()
    assert [r for r in refused if "favicon" not in r[1]] == []
