"""Recipients from XLSX/CSV into a campaign, as a manager does it in the admin: the preview
page (a summary, the bad rows, the first rows), «Подтвердить импорт», one audit record, and
files as staff really have them (Russian Excel's CSV, other headers, uncalculated formulas).
Export with statuses."""

import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mailer.models import Unsubscribe
from tests.conftest import make_campaign
from tests.mailer.admin.spreadsheets import (
    CSV,
    RECIPIENTS,
    XLSX,
    confirm_data,
    csv_upload,
    file_errors,
    shown_messages,
    xlsx_upload,
)

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:mailer_campaignrecipient_import"


@pytest.fixture
def manager(client, manager_a, import_uploads):
    client.force_login(manager_a)
    return manager_a


def preview(client, campaign, upload, file_format=XLSX):
    page = RECIPIENTS.preview(client, upload, file_format, campaign)
    assert page.status_code == 200
    return page


def confirm(client, page):
    return RECIPIENTS.confirm(client, confirm_data(page))


def visible_text(page, *, start=""):
    """The page's text as the manager reads it (tags dropped, spaces collapsed), from the
    element whose HTML starts with `start`, if given."""
    html = page.content.decode()
    html = html[html.index(start) :] if start else html
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def preview_section(page):
    return visible_text(page, start='id="import-preview"')


def test_xlsx_preview_summarises_reports_bad_rows_and_the_confirm_imports_the_good_ones(client, manager):
    campaign = make_campaign(manager, emails=["old@example.com"])
    Unsubscribe.objects.create(email="left@example.com", source="link")
    upload = xlsx_upload(
        [
            ["E-mail", "Имя", "Компания", "Город"],  # line 1
            [" Ivan@Example.ru ", "Иван", "ООО Ромашка", "Казань"],  # 2: added, normalised
            ["not-an-address", "Плохой", "", ""],  # 3: bad
            ["ivan@example.ru", "Иван дубль", "", ""],  # 4: a repeat
            ["old@example.com", "Старый", "", ""],  # 5: in the campaign already
            ["left@example.com", "Ушедший", "", ""],  # 6: added, unsubscribed
            ["petr@example.ru", "Пётр", "ИП Петров", 42],  # 7: added
            [None, "Без адреса", "", ""],  # 8: bad
        ],
        name="клиенты.xlsx",
    )

    page = preview(client, campaign, upload)

    shown = preview_section(page)
    assert "Импорт получателей в кампанию «Осенняя рассылка»: проверка файла «клиенты.xlsx»" in shown
    for label, number in [
        ("Строк с данными в файле", 7),
        ("Будут добавлены", 3),
        ("из них отписались ранее (добавятся со статусом «Отписан», писем не получат)", 1),
        ("Повторы в файле (пропускаются)", 1),
        ("Уже есть в кампании (пропускаются)", 1),
        ("Строки с ошибками (не импортируются)", 2),
    ]:
        assert f" {label} {number} " in shown, label
    assert " 3 not-an-address некорректный адрес " in shown
    assert " 8 пусто нет адреса " in shown
    assert " 2 ivan@example.ru Иван Ожидает company: ООО Ромашка; город: Казань " in shown
    assert " 6 left@example.com Ушедший Отписан " in shown
    assert "pending" not in shown and "{" not in shown  # no raw statuses, no JSON
    assert "Подтвердить импорт" in shown
    assert campaign.recipients.count() == 1  # the preview writes nothing

    done = confirm(client, page)

    assert done.redirect_chain[-1][0] == reverse("admin:mailer_campaign_change", args=[campaign.pk])
    assert shown_messages(done) == [
        "Импорт из файла «клиенты.xlsx» завершён. Добавлено получателей: 3; повторы пропущены: 2; "
        "отписались ранее (не получат писем): 1.",
        "Строки с ошибками не импортированы: строка 3 («not-an-address») — некорректный адрес, "
        "строка 8 (пусто) — нет адреса.",
    ]
    ivan = campaign.recipients.get(email="ivan@example.ru")
    assert (ivan.name, ivan.variables) == ("Иван", {"company": "ООО Ромашка", "город": "Казань"})
    assert campaign.recipients.get(email="petr@example.ru").variables == {"company": "ИП Петров", "город": "42"}
    assert campaign.recipients.get(email="left@example.com").status == "unsubscribed"
    assert campaign.recipients.get(email="old@example.com").name == "Клиент 0"  # existing row untouched
    [entry] = LogEntry.objects.all()  # one audit record for the whole import
    assert (entry.user, entry.action_flag, entry.object_id) == (manager, CHANGE, str(campaign.pk))
    assert entry.change_message.startswith("Импорт получателей из файла «клиенты.xlsx»: добавлено получателей: 3")


def test_the_preview_shows_the_first_rows_not_all_of_them(client, manager):
    campaign = make_campaign(manager)
    rows = [["email"], *([f"client{i}@example.com"] for i in range(300))]

    page = preview(client, campaign, xlsx_upload(rows))

    shown = preview_section(page)
    assert " Будут добавлены 300 " in shown
    assert "client9@example.com" in shown and "client10@example.com" not in shown
    assert "client299@example.com" not in shown


def test_statements_do_not_grow_with_the_rows(client, manager, settings):
    def statements(rows):
        campaign = make_campaign(manager, name=f"Кампания на {rows}")
        upload = xlsx_upload([["email", "имя"], *([f"c{i}@example.com", f"Имя {i}"] for i in range(rows))])
        with CaptureQueriesContext(connection) as previewing:
            page = preview(client, campaign, upload)
        with CaptureQueriesContext(connection) as confirming:
            confirm(client, page)
        assert campaign.recipients.count() == rows
        return len(previewing), len(confirming)

    statements(1)  # caches (content types) filled
    small, large = statements(10), statements(900)
    assert large == small  # within one batch of a thousand: not a statement more per row
    assert LogEntry.objects.count() == 3  # one per import


def test_csv_saved_by_russian_excel_cp1251_with_semicolons(client, manager):
    campaign = make_campaign(manager)
    text = "Адрес эл. почты;ФИО;Компания\r\nanna@example.ru;Анна Петрова;ООО «Ёлка»\r\nboris@example.ru;Борис;\r\n"
    upload = SimpleUploadedFile("выгрузка.csv", text.encode("cp1251"))

    done = confirm(client, preview(client, campaign, upload, CSV))

    assert "Добавлено получателей: 2" in shown_messages(done)[0]
    anna = campaign.recipients.get(email="anna@example.ru")
    assert (anna.name, anna.variables) == ("Анна Петрова", {"company": "ООО «Ёлка»"})


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("\ufeffEmail Address,Name\nanna@example.ru,Анна\n".encode(), ","),  # UTF-8 with a BOM
        ("E-mail адрес\tИмя\nanna@example.ru\tАнна\n".encode(), "tab"),
        ("Почта;Имя\nanna@example.ru;Анна\n".encode("cp1251"), ";"),
    ],
    ids=["utf8-bom-comma", "utf8-tab", "cp1251-semicolon"],
)
def test_encodings_delimiters_and_headers_are_recognised(client, manager, content, delimiter):
    campaign = make_campaign(manager)
    upload = SimpleUploadedFile("list.csv", content)

    confirm(client, preview(client, campaign, upload, CSV))

    assert list(campaign.recipients.values_list("email", "name")) == [("anna@example.ru", "Анна")]


def test_a_formula_without_a_stored_value_is_a_bad_row_not_an_empty_cell(client, manager):
    campaign = make_campaign(manager)
    upload = xlsx_upload(  # openpyxl writes a formula without its value, as some programs do
        [
            ["email", "Имя"],
            ["anna@example.ru", "Анна"],
            ["boris@example.ru", '=UPPER("борис")'],
            ['=CONCAT("x", "@example.ru")', "Икс"],
        ]
    )

    page = preview(client, campaign, upload)

    shown = preview_section(page)
    assert " Строки с ошибками (не импортируются) 2 " in shown
    assert " 3 boris@example.ru в колонке «Имя» формула без сохранённого значения" in shown
    assert " 4 пусто в колонке «email» формула без сохранённого значения" in shown
    confirm(client, page)
    assert list(campaign.recipients.values_list("email", flat=True)) == ["anna@example.ru"]


def test_a_file_without_an_email_column_gets_one_clear_error(client, manager):
    campaign = make_campaign(manager)

    page = preview(client, campaign, csv_upload("Имя;Телефон\nИван;123\nПётр;456\n"), CSV)

    assert file_errors(page) == [
        "В файле нет колонки с адресами e-mail. Подпишите её в первой строке «email» или «Почта» "
        "(колонки в файле: «Имя», «Телефон»)."
    ]
    assert page.context.get("confirm_form") is None
    assert campaign.recipients.count() == 0


def test_the_import_starts_from_the_campaigns_page_with_it_chosen_and_lands_back(client, manager):
    campaign = make_campaign(manager, name="Весенняя")
    button = reverse("admin:mailer_campaign_detail_import_recipients", args=[campaign.pk])
    campaign_page = client.get(reverse("admin:mailer_campaign_change", args=[campaign.pk])).content.decode()
    assert button in campaign_page and "Импорт из файла" in campaign_page
    start = reverse(IMPORT_URL) + f"?campaign={campaign.pk}"

    form_page = client.get(button, follow=True)

    assert form_page.redirect_chain[-1][0] == start
    assert form_page.context["form"].initial["campaign"] == str(campaign.pk)
    assert re.search(rf'<option value="{campaign.pk}"[^>]*selected', form_page.content.decode())
    done = confirm(client, preview(client, campaign, csv_upload("email\nanna@example.ru\n"), CSV))
    assert done.redirect_chain[-1][0] == reverse("admin:mailer_campaign_change", args=[campaign.pk])
    assert "Добавлено получателей: 1" in visible_text(done)


def test_a_campaign_that_started_meanwhile_refuses_the_confirm(client, manager):
    campaign = make_campaign(manager)
    page = preview(client, campaign, csv_upload("email\nanna@example.ru\n"), CSV)
    campaign.status = "sending"
    campaign.save()

    done = confirm(client, page)

    assert done.redirect_chain[-1][0] == RECIPIENTS.url + "import/"
    assert campaign.recipients.count() == 0
    assert shown_messages(done)  # the reason, in Russian, on the import page


def test_import_offers_only_the_managers_editable_campaigns(client, manager, manager_b):
    make_campaign(manager, name="Мой черновик")
    make_campaign(manager, name="Моя отправленная", status="sent")
    make_campaign(manager_b, name="Чужой черновик")
    page = client.get(reverse(IMPORT_URL)).content.decode()
    assert "Мой черновик" in page
    assert "Моя отправленная" not in page and "Чужой черновик" not in page


def test_export_has_statuses_and_errors_of_own_campaigns_only(client, manager, manager_b):
    mine = make_campaign(manager, emails=["a@example.com", "b@example.com"], name="Моя")
    mine.recipients.filter(email="b@example.com").update(status="failed", last_error="550 User unknown")
    make_campaign(manager_b, emails=["x@example.com"], name="Чужая")
    response = client.post(
        reverse("admin:mailer_campaignrecipient_export"),
        {
            "format": CSV,
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


def test_cells_are_text_on_the_preview_never_markup(client, manager):
    campaign = make_campaign(manager)
    upload = xlsx_upload(
        [["email", "Имя"], ["anna@example.ru", "<script>alert(1)</script>"], ["<b>x</b>@example.ru", "Икс"]]
    )

    page = preview(client, campaign, upload).content.decode()

    assert "<script>alert(1)</script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;@example.ru" in page


def test_a_huge_bad_cell_is_shown_shortened(client, manager):
    campaign = make_campaign(manager)
    rows = "".join(f"{'x' * 20_000}{i}\n" for i in range(50))  # 50 bad «addresses» of 20 000 characters
    page = preview(client, campaign, csv_upload("email\n" + rows), CSV).content.decode()
    assert "Строки с ошибками (не импортируются)" in page and "x" * 101 not in page
    assert len(page) < 200_000  # was a megabyte of the file echoed back
