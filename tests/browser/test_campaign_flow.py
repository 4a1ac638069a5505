"""A manager's whole day in headless Chromium: log in, create a campaign, import recipients
from XLSX from its page (one bad row), send a test e-mail, start it, see it deferred and notified, and
watch the progress bar reach 100 % while a real SMTP server receives the messages. Screenshots of every step go to
test-output/screenshots/.
"""

import threading

import openpyxl
import pytest
from django.contrib.auth.models import Group, User

from backoffice.permissions import MANAGER_GROUP
from mailer import tasks
from mailer.models import Campaign
from tests.browser.conftest import shot
from tests.conftest import msk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sender():
    """Stands in for the Huey consumer: runs the sender task every half second."""
    stop = threading.Event()

    def loop():
        from django.db import connection

        while not stop.wait(0.5):
            tasks.send_pending_emails.call_local()
        connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def xlsx_file(tmp_path):
    book = openpyxl.Workbook()
    for row in [
        ["email", "имя", "компания"],
        ["anna@example.ru", "Анна", "ООО Альфа"],
        ["boris@example.ru", "Борис", "ООО Бета"],
        ["not-an-email", "Ошибка", ""],
        ["vera@example.ru", "Вера", "ООО Гамма"],
        ["gleb@example.ru", "Глеб", "ООО Дельта"],
    ]:
        book.active.append(row)
    path = tmp_path / "clients.xlsx"
    book.save(path)
    return path


def test_manager_runs_a_campaign_in_the_browser(
    transactional_db, live_server, browser_page, inbox, clock, sender, settings, tmp_path
):
    settings.MAILER_RATE_PER_HOUR = 3  # a test e-mail and two messages: the day includes a deferral
    manager = User.objects.create_user("olga", "olga@crm.example", "Secret-pass-1", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER_GROUP))
    page = browser_page
    admin = live_server.url + "/admin/"

    page.goto(admin)
    shot(page, "01-login")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "Secret-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url(admin)
    shot(page, "02-dashboard")

    page.goto(admin + "mailer/campaign/add/")
    page.fill("input[name=name]", "Зимняя рассылка")
    page.fill("input[name=subject]", "Предложение для {{ company }}")
    page.fill("textarea[name=body_html]", "<p>Здравствуйте, {{ name }}!</p><p>Ваша компания: {{ company }}.</p>")
    shot(page, "03-new-campaign")
    page.click("button[name=_continue]")
    page.wait_for_selector("text=Сохранено")
    campaign = Campaign.objects.get(name="Зимняя рассылка")

    page.click("a:has-text('Ещё')")  # the rarer actions are under «Ещё»
    page.click("a:has-text('Импорт из файла')")  # from the campaign's own page: it is chosen already
    page.wait_for_url(f"**/mailer/campaignrecipient/import/?campaign={campaign.pk}")
    assert page.input_value("select[name=campaign]") == str(campaign.pk)
    shot(page, "04-import-form")
    page.select_option("select[name=format]", label="xlsx")
    page.set_input_files("input[name=import_file]", str(xlsx_file(tmp_path)))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_selector("#import-bad-rows >> text=некорректный адрес")
    shot(page, "04-import-preview-with-bad-row")
    page.click("form[action*=process_import] button[type=submit]")
    page.wait_for_selector("text=Добавлено получателей: 4")
    assert page.url.endswith(f"/admin/mailer/campaign/{campaign.pk}/change/")  # back on the campaign's page
    shot(page, "05-imported")
    assert campaign.recipients.count() == 4

    page.goto(admin + f"mailer/campaign/{campaign.pk}/change/")
    page.click("a:has-text('Тестовое письмо')")
    page.wait_for_selector("#dialog textarea[name=to]")
    page.fill("#dialog textarea[name=to]", "olga@crm.example")
    shot(page, "06-test-email-dialog")
    page.click("#dialog button[type=submit]")
    page.wait_for_selector("text=Тестовое письмо отправлено на olga@crm.example.")
    assert inbox.addresses() == ["olga@crm.example"]

    page.click("a:has-text('Запустить')")
    page.wait_for_selector("#dialog")
    shot(page, "07-start-dialog")
    page.click("#dialog button[type=submit]")
    page.wait_for_selector("text=поставлена в очередь")
    shot(page, "08-started")

    page.wait_for_selector("#campaign-progress-reason:has-text('Достигнут лимит писем в час')")
    shot(page, "09-deferred-progress")
    assert len(inbox.received) == 3

    page.goto(admin + "mailer/campaignqueue/")
    page.wait_for_selector("text=Продолжится сегодня в 11:00 (МСК)")
    shot(page, "10-queue-with-reason")

    page.goto(admin + "backoffice/notification/")
    page.wait_for_selector("text=отложена")
    shot(page, "11-deferral-notification")

    clock.move_to(msk(2026, 11, 30, 11, 0))  # the next hour: the limit lifts
    page.goto(admin + f"mailer/campaign/{campaign.pk}/change/")
    page.wait_for_selector("#campaign-progress[data-percent='100']", timeout=30_000)
    shot(page, "12-progress-100")

    assert sorted(inbox.addresses()) == [
        "anna@example.ru",
        "boris@example.ru",
        "gleb@example.ru",
        "olga@crm.example",
        "vera@example.ru",
    ]
    received = {r.to: r.message for r in inbox.received}
    assert received["anna@example.ru"]["Subject"].strip() == "Предложение для ООО Альфа"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
