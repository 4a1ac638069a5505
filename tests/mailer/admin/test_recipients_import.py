"""Recipients from XLSX/CSV into a chosen campaign, and export with statuses."""

import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mailer.models import Unsubscribe
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:mailer_campaignrecipient_import"
PROCESS_URL = "admin:mailer_campaignrecipient_process_import"


def xlsx(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("clients.xlsx", buffer.getvalue())


def format_index(page, name):
    """The import form lists formats as <option value="N">xlsx</option>."""
    import re

    return re.search(rf'<option value="(\d+)"[^>]*>\s*{name}\s*</option>', page).group(1)


def import_file(client, campaign, upload, fmt):
    page = client.get(reverse(IMPORT_URL)).content.decode()
    preview = client.post(
        reverse(IMPORT_URL),
        {
            "campaign": campaign.pk,
            "format": format_index(page, fmt),
            "import_file": upload,
            "resource": 0,
        },
    )
    return preview


def confirm(client, preview):
    form = preview.context["confirm_form"]
    data = {name: form.initial.get(name, "") for name in form.fields}
    return client.post(reverse(PROCESS_URL), data, follow=True)


def test_xlsx_import_reports_bad_rows_collapses_repeats_and_keeps_columns(client, manager_a):
    campaign = make_campaign(manager_a, emails=["old@example.com"])
    Unsubscribe.objects.create(email="left@example.com", source="link")
    client.force_login(manager_a)
    upload = xlsx(
        [
            ["E-mail", "Имя", "Компания", "Город"],
            [" Ivan@Example.ru ", "Иван", "ООО Ромашка", "Казань"],
            ["not-an-address", "Плохой", "", ""],
            ["ivan@example.ru", "Иван дубль", "", ""],
            ["old@example.com", "Старый", "", ""],
            ["left@example.com", "Ушедший", "", ""],
            ["petr@example.ru", "Пётр", "ИП Петров", 42],
        ]
    )
    preview = import_file(client, campaign, upload, "xlsx")
    assert preview.context["confirm_form"] is not None, preview.content.decode()[:2000]
    warning = [str(m) for m in get_messages(preview.wsgi_request)]
    assert warning == [
        "Предварительный просмотр: повторы пропущены: 2; "
        "некорректные адреса не импортированы: строка 3 («not-an-address»)."
    ]
    assert campaign.recipients.count() == 1  # nothing written by the preview

    done = confirm(client, preview)
    assert [str(m) for m in done.context["messages"]] == [
        "Импорт завершён: добавлено получателей: 3; повторы пропущены: 2; "
        "некорректные адреса не импортированы: строка 3 («not-an-address»)."
    ]
    ivan = campaign.recipients.get(email="ivan@example.ru")
    assert (ivan.name, ivan.variables) == ("Иван", {"company": "ООО Ромашка", "город": "Казань"})
    assert campaign.recipients.get(email="petr@example.ru").variables["город"] == "42"
    assert campaign.recipients.get(email="left@example.com").status == "unsubscribed"
    assert campaign.recipients.get(email="old@example.com").name == "Клиент 0"  # existing row untouched


def test_csv_import(client, manager_a):
    campaign = make_campaign(manager_a)
    client.force_login(manager_a)
    upload = SimpleUploadedFile("c.csv", "email,name\nanna@example.ru,Анна\n".encode())
    done = confirm(client, import_file(client, campaign, upload, "csv"))
    assert "добавлено получателей: 1" in [str(m) for m in done.context["messages"]][0]
    assert campaign.recipients.get().name == "Анна"


def test_file_without_an_email_column_is_explained(client, manager_a):
    campaign = make_campaign(manager_a)
    client.force_login(manager_a)
    preview = import_file(client, campaign, xlsx([["Имя"], ["Иван"]]), "xlsx")
    assert "В файле нет колонки с адресами" in preview.content.decode()
    assert preview.context["confirm_form"] is None if "confirm_form" in preview.context else True


def test_import_offers_only_the_managers_editable_campaigns(client, manager_a, manager_b):
    own = make_campaign(manager_a, name="Мой черновик")
    make_campaign(manager_a, name="Моя отправленная", status="sent")
    make_campaign(manager_b, name="Чужой черновик")
    client.force_login(manager_a)
    page = client.get(reverse(IMPORT_URL)).content.decode()
    assert "Мой черновик" in page
    assert "Моя отправленная" not in page and "Чужой черновик" not in page
    assert own.pk


def test_export_has_statuses_and_errors_of_own_campaigns_only(client, manager_a, manager_b):
    mine = make_campaign(manager_a, emails=["a@example.com", "b@example.com"], name="Моя")
    mine.recipients.filter(email="b@example.com").update(status="failed", last_error="550 User unknown")
    make_campaign(manager_b, emails=["x@example.com"], name="Чужая")
    client.force_login(manager_a)
    page = client.get(reverse("admin:mailer_campaignrecipient_export")).content.decode()
    response = client.post(
        reverse("admin:mailer_campaignrecipient_export"),
        {
            "format": format_index(page, "csv"),
            "resource": 0,
            **{
                f"recipientresource_{f}": "on"
                for f in ("campaign", "email", "name", "status", "error", "attempts", "sent_at", "variables")
            },
        },
    )
    body = response.content.decode()
    assert "b@example.com" in body and "550 User unknown" in body and "Ошибка" in body
    assert "x@example.com" not in body
