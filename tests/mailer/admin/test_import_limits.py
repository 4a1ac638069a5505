"""Bounded imports (issue 8, finding 5), on both spreadsheet screens: too many bytes, too many
rows, a zip bomb and a file that is no spreadsheet are each refused with a Russian message on
the import page, before anything is written — never a 500."""

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile, TemporaryUploadedFile

from tests.conftest import make_campaign
from tests.mailer.admin.spreadsheets import (
    CSV,
    SCREENS,
    XLSX,
    confirm_data,
    csv_upload,
    file_errors,
    sheet_xml,
    xlsx_upload,
    xlsx_with_parts,
)

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
TOO_BIG = "Файл слишком большой (12,0\xa0МБ): можно загрузить не больше 10,0\xa0МБ. Разделите его на части."
TOO_MANY_ROWS = (
    "В файле больше 3 строк с данными, а за один раз можно загрузить не больше 3 "
    "(столько получателей вмещает одна кампания). Разделите файл на части."
)
NOT_XLSX = (
    "Файл не читается как книга Excel (XLSX). Если это CSV, выберите формат «csv»; иначе "
    "откройте файл в Excel и сохраните как «Книга Excel (*.xlsx)»."
)
NOT_CSV = (
    "Файл не читается как CSV (UTF-8 или Windows-1251). Если это книга Excel, выберите формат «xlsx»; "
    "иначе сохраните таблицу в Excel как «CSV UTF-8» или «CSV (разделители — запятые)»."
)
BOMB_SIZE = "Файл XLSX распаковывается в 110,5\xa0МБ, а можно не больше 50,0\xa0МБ. Разделите таблицу на части."
BOMB_RATIO = (
    "Файл XLSX сжат неправдоподобно сильно (так выглядят файлы-«бомбы», а не таблицы Excel) "
    "и не принят. Откройте его в Excel и сохраните заново."
)
ROW_XML = b'<row><c t="inlineStr"><is><t>a@example.com</t></is></c></row>'


@pytest.fixture
def manager(client, manager_a, import_uploads):
    client.force_login(manager_a)
    return manager_a


def refused(screen, client, upload, file_format, manager):
    """Previews `upload` and returns what the page says under the file field."""
    campaign = make_campaign(manager, name="Черновик")
    page = screen.preview(client, upload, file_format, campaign)
    assert page.status_code == 200
    assert page.context.get("confirm_form") is None  # nothing to confirm
    assert screen.imported() == []
    return file_errors(page)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_a_file_over_the_byte_limit_is_refused_and_its_bytes_never_kept(client, manager, import_uploads, screen):
    line = b"client@example.com\n"
    body = b"email\n" + line * (12 * MB // len(line))
    body += b"x" * (12 * MB - len(body))  # 12 MB: over the default 10 MB

    page = screen.preview(client, SimpleUploadedFile("big.csv", body), CSV, make_campaign(manager))

    assert file_errors(page) == [TOO_BIG]
    assert screen.imported() == [] and import_uploads() == []
    # The upload handler kept only the size: the form got no file in memory or on disk.
    upload = page.wsgi_request.FILES["import_file"]
    assert upload.size == len(body)
    assert not isinstance(upload, InMemoryUploadedFile | TemporaryUploadedFile)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
@pytest.mark.parametrize("file_format", [XLSX, CSV], ids=["xlsx", "csv"])
def test_more_rows_than_one_campaign_holds_are_refused(client, manager, settings, screen, file_format):
    settings.MAILER_MAX_CAMPAIGN_RECIPIENTS = 3
    rows = [["email"], *([f"client{i}@example.com"] for i in range(4))]
    upload = xlsx_upload(rows) if file_format == XLSX else csv_upload("\n".join(r[0] for r in rows))

    assert refused(screen, client, upload, file_format, manager) == [TOO_MANY_ROWS]


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_exactly_the_row_limit_passes_even_with_blank_lines_at_the_end(client, manager, settings, screen):
    settings.MAILER_MAX_CAMPAIGN_RECIPIENTS = 3
    upload = csv_upload("email\na@example.com\nb@example.com\nc@example.com\n\n\n")

    page = screen.preview(client, upload, CSV, make_campaign(manager))

    screen.confirm(client, confirm_data(page))
    assert screen.imported() == ["a@example.com", "b@example.com", "c@example.com"]


@pytest.fixture(scope="module")
def zip_bomb():
    """340 KB that unpack to 110 MB of sheet XML."""
    return xlsx_with_parts({"xl/worksheets/sheet1.xml": sheet_xml(ROW_XML, times=1_900_000)}).read()


@pytest.fixture(scope="module")
def million_rows():
    """68 KB holding a million rows: under the size limit, but packed 400 times."""
    return xlsx_with_parts({"xl/worksheets/sheet1.xml": sheet_xml(b"<row><c><v>1</v></c></row>", times=10**6)}).read()


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_a_zip_bomb_is_refused_before_it_is_unpacked(client, manager, screen, zip_bomb):
    upload = SimpleUploadedFile("bomb.xlsx", zip_bomb)
    assert refused(screen, client, upload, XLSX, manager) == [BOMB_SIZE]


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_a_small_xlsx_with_a_million_rows_is_refused_before_it_is_unpacked(client, manager, screen, million_rows):
    assert len(million_rows) < 100_000
    upload = SimpleUploadedFile("million.xlsx", million_rows)
    assert refused(screen, client, upload, XLSX, manager) == [BOMB_RATIO]


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_a_file_that_is_no_spreadsheet_is_refused(client, manager, screen):
    picture = SimpleUploadedFile("photo.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    assert refused(screen, client, picture, XLSX, manager) == [NOT_XLSX]

    workbook_as_csv = xlsx_upload([["email"], ["a@example.com"]], name="list.csv")
    assert refused(screen, client, workbook_as_csv, CSV, manager) == [NOT_CSV]

    entities = b"".join(
        b'<!ENTITY e%d "&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;">' % ((i + 1,) + (i,) * 10) for i in range(9)
    )
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY e0 "lol">'
        + entities
        + b"]>"
        + SHEET_OPEN
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>&e9;</t></is></c></row>'
        + SHEET_CLOSE
    )
    billion_laughs = xlsx_with_parts({"xl/worksheets/sheet1.xml": [laughs]})
    assert refused(screen, client, billion_laughs, XLSX, manager) == [NOT_XLSX]


SHEET_OPEN = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
SHEET_CLOSE = b"</sheetData></worksheet>"
