"""The suppression list in the back-office: manual add, XLSX/CSV import with bad rows,
export, who added what, and removal only by a superuser, audited in Django's LogEntry."""

import csv
import io
import logging
import re

import openpyxl
import pytest
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from backoffice.permissions import MANAGER_GROUP
from mailer.admin.unsubscribes import UnsubscribeForm
from mailer.models import CampaignRecipient, Unsubscribe
from mailer.suppression import suppress
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/mailer/unsubscribe/"
ADD = CHANGELIST + "add/"
IMPORT = CHANGELIST + "import/"
PROCESS_IMPORT = CHANGELIST + "process_import/"
EXPORT = CHANGELIST + "export/"
XLSX_FORMAT, CSV_FORMAT = "0", "1"  # the admin's format choices, in its order


@pytest.fixture
def manager(db):
    user = User.objects.create_user("manager_m", "m@crm.example", "pass", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER_GROUP))
    return user


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("boss", "boss@crm.example", "pass")


def logged_in(client, user):
    client.force_login(user)
    return client


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def xlsx_file(rows, name="отписки.xlsx"):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/vnd.ms-excel")


def import_file(client, upload, file_format):
    """The two admin steps: upload (a dry run with a preview), then confirm."""
    preview = client.post(IMPORT, {"format": file_format, "resource": "0", "import_file": upload})
    assert preview.status_code == 200
    return preview


def confirm(client, preview):
    form = preview.context["confirm_form"]
    return client.post(PROCESS_IMPORT, {name: form.initial[name] for name in form.fields}, follow=True)


# --- the list --------------------------------------------------------------------------------


def test_list_shows_who_added_each_row_and_searches_and_filters(client, manager, owner):
    campaign = make_campaign(owner, emails=[])
    suppress("ivan.petrov@example.com", source=Unsubscribe.Source.ONE_CLICK, campaign=campaign)
    suppress("olga@example.org", source=Unsubscribe.Source.MANUAL, user=manager)
    suppress("gone@example.net", source=Unsubscribe.Source.BOUNCE)
    client = logged_in(client, manager)

    page = client.get(CHANGELIST)
    rows = {r.email: page.context["cl"].model_admin.added_by(r) for r in page.context["cl"].result_list}
    assert rows == {
        "ivan.petrov@example.com": "получатель",
        "olga@example.org": "manager_m",
        "gone@example.net": "почтовый сервер",
    }

    found = client.get(CHANGELIST, {"q": "IVAN.Petrov"})
    assert [r.email for r in found.context["cl"].result_list] == ["ivan.petrov@example.com"]
    manual = client.get(CHANGELIST, {"source__exact": "manual"})
    assert [r.email for r in manual.context["cl"].result_list] == ["olga@example.org"]


# --- manual add ------------------------------------------------------------------------------


def test_manager_adds_an_address_normalised_and_its_waiting_recipients_are_marked(client, manager, owner):
    campaign = make_campaign(owner, emails=["ivan.petrov@example.com", "olga@example.org"])
    client = logged_in(client, manager)

    response = client.post(ADD, {"email": "  Ivan.Petrov@Example.COM ", "_save": "1"})

    assert response.status_code == 302
    entry = Unsubscribe.objects.get()
    assert (entry.email, entry.source, entry.created_by) == ("ivan.petrov@example.com", "manual", manager)
    assert campaign.recipients.get(email="ivan.petrov@example.com").status == CampaignRecipient.Status.UNSUBSCRIBED
    assert campaign.recipients.get(email="olga@example.org").status == CampaignRecipient.Status.PENDING
    [log] = LogEntry.objects.filter(action_flag=ADDITION)
    assert (log.user, log.object_id) == (manager, str(entry.pk))


def test_a_duplicate_in_any_spelling_gets_a_clear_russian_error(client, manager):
    suppress("ivan.petrov@example.com", source=Unsubscribe.Source.LINK)
    client = logged_in(client, manager)

    response = client.post(ADD, {"email": "IVAN.PETROV@example.com "})

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["email"]
    assert error.startswith("Адрес ivan.petrov@example.com уже в списке отписок")
    assert "«Ссылка в письме»" in error
    assert Unsubscribe.objects.count() == 1


def test_an_invalid_address_is_refused(client, manager):
    response = logged_in(client, manager).post(ADD, {"email": "ivan at example"})
    assert response.context["adminform"].form.errors["email"] == ["Некорректный адрес e-mail."]
    assert not Unsubscribe.objects.exists()


def test_rows_are_never_edited(client, manager, superuser):
    entry, _ = suppress("ivan.petrov@example.com", source=Unsubscribe.Source.LINK)
    change = f"{CHANGELIST}{entry.pk}/change/"
    for user in (manager, superuser):
        client = logged_in(client, user)
        assert client.get(change).status_code == 200  # a read-only view
        client.post(change, {"email": "other@example.com"})
    entry.refresh_from_db()
    assert entry.email == "ivan.petrov@example.com"


@given(st.emails().filter(lambda e: len(e) <= 254), st.sampled_from([str.upper, str.title, str.swapcase]))
@hypothesis_settings(
    max_examples=30, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_add_form_normalises_and_knows_any_spelling_of_a_listed_address(db, email, respell):
    with transaction.atomic():
        form = UnsubscribeForm(data={"email": f" {respell(email)}\t"})
        if not form.is_valid():  # an address Django's validator refuses: refused here too
            assert "Некорректный адрес e-mail." in form.errors["email"]
            return
        assert form.cleaned_data["email"] == email.lower()
        suppress(email, source=Unsubscribe.Source.MANUAL)
        again = UnsubscribeForm(data={"email": respell(email)})
        assert not again.is_valid() and "уже в списке отписок" in again.errors["email"][0]
        transaction.set_rollback(True)


# --- import ----------------------------------------------------------------------------------


def test_xlsx_import_keeps_good_rows_reports_bad_ones_by_line_and_collapses_duplicates(client, manager, owner):
    suppress("ivan.petrov@example.com", source=Unsubscribe.Source.LINK)
    campaign = make_campaign(owner, emails=["petr@example.net", "anna@example.com"])
    client = logged_in(client, manager)
    upload = xlsx_file(
        [
            ["Имя", "Адрес эл. почты"],  # line 1
            ["Ольга", "  Olga@Example.ORG "],  # 2: added, normalised
            ["Сломанный", "not-an-email"],  # 3: invalid
            ["Без адреса", None],  # 4: no address
            ["Ольга ещё раз", "olga@example.org"],  # 5: duplicate in the file
            ["Иван", "IVAN.PETROV@example.com"],  # 6: already on the list
            ["Пётр", "petr@example.net"],  # 7: added; his waiting recipient is marked
            [None, None],  # 8: a blank line, not worth a word
        ]
    )

    preview = import_file(client, upload, XLSX_FORMAT)

    assert preview.context["confirm_form"] is not None  # bad rows do not withhold "Confirm"
    shown = text_of(preview)
    for line in [
        " Строк с данными в файле 6 ",
        " Будут добавлены в список 2 ",
        " Уже в списке (пропускаются) 1 ",
        " Повторы в файле (пропускаются) 1 ",
        " Строки с ошибками (не импортируются) 2 ",
        " 3 not-an-email некорректный адрес ",
        " 4 пусто нет адреса ",
        " 2 olga@example.org 7 petr@example.net ",  # the first rows as they go onto the list
    ]:
        assert line in shown, line
    assert Unsubscribe.objects.count() == 1  # the preview left nothing behind
    assert campaign.recipients.get(email="petr@example.net").status == CampaignRecipient.Status.PENDING

    done = confirm(client, preview)

    assert messages_of(done) == [
        "Импорт завершён: добавлено адресов — 2; уже были в списке или повторялись в файле — 2; "
        "ожидавших отправки писем отменено — 1.",
        "Некорректные строки пропущены: строка 3 («not-an-email») — некорректный адрес, строка 4 (пусто) — нет адреса.",
    ]
    imported = Unsubscribe.objects.filter(source=Unsubscribe.Source.IMPORT)
    assert sorted(imported.values_list("email", flat=True)) == ["olga@example.org", "petr@example.net"]
    assert {row.created_by for row in imported} == {manager}
    assert Unsubscribe.objects.get(email="ivan.petrov@example.com").source == Unsubscribe.Source.LINK
    assert campaign.recipients.get(email="petr@example.net").status == CampaignRecipient.Status.UNSUBSCRIBED
    assert campaign.recipients.get(email="anna@example.com").status == CampaignRecipient.Status.PENDING
    [logged] = LogEntry.objects.filter(user=manager)  # one audit record for the whole import
    assert logged.action_flag == ADDITION
    assert logged.change_message.startswith("Импорт в список отписок из файла «отписки.xlsx»: добавлено адресов — 2")


def test_a_csv_from_russian_excel_and_a_file_without_an_address_column(client, manager):
    client = logged_in(client, manager)
    excel = SimpleUploadedFile("list.csv", "Фамилия;E-mail адрес\r\nИванов;A@Example.com\r\n".encode("cp1251"))
    confirm(client, import_file(client, excel, CSV_FORMAT))
    assert Unsubscribe.objects.get().email == "a@example.com"

    wrong = SimpleUploadedFile("list.csv", "name,phone\nИван,123\n".encode(), content_type="text/csv")
    preview = import_file(client, wrong, CSV_FORMAT)
    assert preview.context.get("confirm_form") is None
    assert preview.context["form"].errors["import_file"] == [
        "В файле нет колонки с адресами e-mail. Подпишите её в первой строке «email» или «Почта» "
        "(колонки в файле: «name», «phone»)."
    ]
    assert Unsubscribe.objects.count() == 1


def test_statements_do_not_grow_with_the_rows(client, manager):
    client = logged_in(client, manager)

    def statements(rows, start):
        upload = xlsx_file([["email"], *([f"c{start + i}@example.com"] for i in range(rows))])
        with CaptureQueriesContext(connection) as previewing:
            preview = import_file(client, upload, XLSX_FORMAT)
        with CaptureQueriesContext(connection) as confirming:
            confirm(client, preview)
        return len(previewing), len(confirming)

    statements(1, 0)  # caches (content types) filled
    assert statements(10, 100) == statements(900, 1000)
    assert Unsubscribe.objects.count() == 911


def text_of(response):
    """The preview as the manager reads it (tags dropped, spaces collapsed)."""
    html = response.content.decode()
    html = html[html.index('id="import-preview"') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- export ----------------------------------------------------------------------------------


def test_export_as_csv_and_xlsx_names_who_added_each_row(client, manager, owner, clock):
    campaign = make_campaign(owner, emails=[], name="Осенняя рассылка")
    suppress("ivan.petrov@example.com", source=Unsubscribe.Source.ONE_CLICK, campaign=campaign)
    suppress("olga@example.org", source=Unsubscribe.Source.MANUAL, user=manager)
    client = logged_in(client, manager)
    headers = ["email", "источник", "кампания", "добавил", "дата"]
    assert client.get(EXPORT).context["fields_list"] == [("Отписки", headers)]

    as_csv = client.post(EXPORT, {"format": CSV_FORMAT, "resource": "0"})
    as_xlsx = client.post(EXPORT, {"format": XLSX_FORMAT, "resource": "0"})

    assert as_csv["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    by_email = {row["email"]: row for row in rows}
    assert by_email["olga@example.org"]["добавил"] == "manager_m"
    assert by_email["olga@example.org"]["источник"] == "Вручную"
    assert by_email["olga@example.org"]["дата"] == "30.11.2026 10:00"  # Moscow time
    assert by_email["ivan.petrov@example.com"]["кампания"] == "Осенняя рассылка"
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    values = list(sheet.values)
    assert values[0][:4] == ("email", "источник", "кампания", "добавил")
    assert sorted(v[0] for v in values[1:]) == ["ivan.petrov@example.com", "olga@example.org"]


# --- removal ---------------------------------------------------------------------------------


def test_a_manager_cannot_remove_an_address(client, manager):
    entry, _ = suppress("ivan.petrov@example.com", source=Unsubscribe.Source.LINK)
    client = logged_in(client, manager)

    assert client.get(f"{CHANGELIST}{entry.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert Unsubscribe.objects.filter(pk=entry.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_a_superuser_removes_an_address_and_it_is_audited(client, superuser, caplog):
    entry, _ = suppress("ivan.petrov@example.com", source=Unsubscribe.Source.LINK)
    other, _ = suppress("olga@example.org", source=Unsubscribe.Source.LINK)
    client = logged_in(client, superuser)

    with caplog.at_level("INFO", logger="mailer"):
        single = client.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"})
        bulk = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})

    assert single.status_code == 302 and bulk.status_code == 302
    assert not Unsubscribe.objects.exists()
    audit = LogEntry.objects.filter(action_flag=DELETION).order_by("id")
    assert [(log.user, log.object_repr) for log in audit] == [
        (superuser, "ivan.petrov@example.com"),
        (superuser, "olga@example.org"),
    ]
    removed = [r for r in caplog.records if r.getMessage() == "Address removed from the suppression list"]
    assert [r.email_masked for r in removed] == ["i***v@example.com", "o***a@example.org"]


def test_an_import_writes_one_log_line_with_counts_and_no_address(
    client, manager, owner, caplog, django_capture_on_commit_callbacks
):
    make_campaign(owner, emails=["petr@example.net"])
    client = logged_in(client, manager)
    preview = import_file(client, xlsx_file([["email"], ["olga@example.org"], ["petr@example.net"]]), XLSX_FORMAT)

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        confirm(client, preview)

    [line] = [r for r in caplog.records if r.getMessage() == "Addresses added to the suppression list"]
    assert (line.added, line.recipients_marked) == (2, 1)
    everything = " ".join(str(r.__dict__) for r in caplog.records)
    assert "olga@example.org" not in everything and "petr@example.net" not in everything
