"""The bounded spreadsheet reader: file → headers + rows, its limits applied while reading."""

import csv
import io
import struct
import zipfile
from dataclasses import replace

import pytest

from mailer.spreadsheets.reader import CSV, UNCALCULATED, XLSX, ReadLimits, SpreadsheetRefused, read_table
from tests.mailer.admin.spreadsheets import (
    SHARED_STRINGS,
    SHEET_END,
    SHEET_START,
    shared_strings_xml,
    workbook_with_parts,
    xlsx_bytes,
    xlsx_with_parts,
)

LIMITS = ReadLimits(max_bytes=50 * 2**20, max_rows=1000, max_uncompressed_bytes=50 * 2**20, max_compression_ratio=100)


class ReadCounter(io.BytesIO):
    """A file that counts the bytes read from it."""

    total = 0

    def read(self, *args):
        data = super().read(*args)
        self.total += len(data)
        return data

    def read1(self, *args):
        data = super().read1(*args)
        self.total += len(data)
        return data


def reason(source, kind, limits=LIMITS):
    with pytest.raises(SpreadsheetRefused) as refused:
        read_table(source, kind, limits)
    return refused.value.reason


def test_rows_come_as_wide_as_the_headers_with_inner_blank_lines_kept_and_trailing_ones_dropped():
    text = "email,имя\na@example.com,Анна,лишняя\n\nb@example.com\n\n\n"
    table = read_table(text.encode(), CSV, LIMITS)
    assert table.headers == ["email", "имя"]
    # The blank line stays, so every row keeps its line number in the file.
    assert table.rows == [["a@example.com", "Анна"], [None, None], ["b@example.com", None]]

    book = read_table(xlsx_bytes([["email", "имя"], ["a@example.com", 42], [], ["b@example.com"]]), XLSX, LIMITS)
    assert book.headers == ["email", "имя"]
    assert book.rows == [["a@example.com", 42], [None, None], ["b@example.com", None]]


def test_csv_reading_stops_at_the_first_row_past_the_limit():
    stream = ReadCounter(b"email\n" + b"client@example.com\n" * 10**6)  # 19 MB

    assert reason(stream, CSV) == "too_many_rows"
    assert stream.total < len(stream.getvalue()) / 100  # the rest was never read


def test_xlsx_reading_stops_at_the_first_row_past_the_limit_even_without_a_dimension():
    # openpyxl's read-only sheet parses a sheet lacking <dimension> whole before its first row.
    rows = (b'<row><c t="inlineStr"><is><t>client%d@example.com</t></is></c></row>' % i for i in range(200_000))
    stream = ReadCounter(xlsx_with_parts({"xl/worksheets/sheet1.xml": [SHEET_START, *rows, SHEET_END]}).read())

    assert reason(stream, XLSX) == "too_many_rows"
    assert stream.total < len(stream.getvalue()) / 5


def test_cells_are_counted_too_so_wide_rows_end_the_read_early():
    wide_row = "a@example.com," + ",".join(["x"] * 59) + "\n"  # 60 cells; 50 a row are allowed
    stream = ReadCounter(("email,имя\n" + wide_row * 1000).encode())

    assert reason(stream, CSV) == "too_many_cells"
    assert read_table(("email,имя\n" + wide_row * 800).encode(), CSV, LIMITS).rows[0] == ["a@example.com", "x"]


def test_rows_missing_from_a_sheet_count_too_so_a_far_row_number_ends_the_read():
    far_row = b'<row r="999999999999"><c r="A999999999999"><v>1</v></c></row>'
    sheet = xlsx_with_parts({"xl/worksheets/sheet1.xml": [SHEET_START, far_row, SHEET_END]}).read()
    assert reason(sheet, XLSX) == "too_many_rows"


def test_a_zip_member_that_unpacks_past_its_declared_size_is_unreadable():
    rows = b'<row><c t="inlineStr"><is><t>a@example.com</t></is></c></row>' * 30_000
    honest = xlsx_with_parts({"xl/worksheets/sheet1.xml": [SHEET_START, rows, SHEET_END]}).read()
    lying = declare_size(honest, "xl/worksheets/sheet1.xml", 1000)

    roomy = replace(LIMITS, max_rows=10**5, max_compression_ratio=10**4)
    assert len(read_table(honest, XLSX, roomy).rows) == 30_000
    assert reason(lying, XLSX, roomy) == "unreadable"


def test_limits_come_from_the_settings(settings):
    settings.MAILER_IMPORT_MAX_BYTES = 10
    settings.MAILER_MAX_CAMPAIGN_RECIPIENTS = 1
    assert reason(b"email\na@example.com\n", CSV, None) == "too_big"
    settings.MAILER_IMPORT_MAX_BYTES = 1000
    assert reason(b"email\na@example.com\nb@example.com\n", CSV, None) == "too_many_rows"
    assert read_table(b"email\na@example.com\n", CSV).rows == [["a@example.com"]]


def test_an_empty_file_is_refused():
    assert reason(b"", CSV) == "empty"


def declare_size(data, name, size):
    """The zip with `name` claiming to unpack to `size` bytes (local and central headers)."""
    member = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    patched = bytearray(data)
    struct.pack_into("<I", patched, member.header_offset + 22, size)  # local file header
    central = patched.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", patched, central + 28)[0]
        if patched[central + 46 : central + 46 + name_length] == name.encode():
            struct.pack_into("<I", patched, central + 24, size)  # central directory entry
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def test_distinct_texts_are_read_with_their_rich_runs_and_counted_before_any_row():
    rich = "<r><rPr><b/></rPr><t>ООО </t></r><r><t>Ромашка</t></r><rPh sb='0' eb='1'><t>ろ</t></rPh>".encode()
    texts = [b"<t>email</t>", rich, *(b"<t>client%d@example.com</t>" % i for i in range(200))]
    rows = (b'<row><c t="s"><v>%d</v></c></row>' % i for i in range(len(texts)))
    book = workbook_with_parts(
        {
            SHARED_STRINGS: shared_strings_xml(texts),
            "xl/worksheets/sheet1.xml": [SHEET_START.split(b"<row")[0], *rows, SHEET_END],
        }
    )

    table = read_table(book, XLSX, replace(LIMITS, max_rows=201))
    assert table.rows[0] == ["ООО Ромашка"] and table.rows[-1] == ["client199@example.com"]
    assert reason(book, XLSX, replace(LIMITS, max_rows=10)) == "too_many_texts"  # 20 a row: 200


# --- files as staff have them ------------------------------------------------------------------

ROWS = [["Почта", "Имя"], ["anna@example.ru", "Анна, Петровна"], ["boris@example.ru", "Борис"]]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_a_csv_in_any_of_the_encodings_and_delimiters_excel_writes_reads_the_same(encoding, delimiter):
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(ROWS)

    table = read_table(text.getvalue().encode(encoding), CSV, LIMITS)

    assert [table.headers, *table.rows] == ROWS


def test_the_delimiter_is_the_header_lines_not_one_inside_quotes():
    table = read_table('"Фамилия, имя";email\r\n"Петрова, Анна";anna@example.ru\r\n'.encode("cp1251"), CSV, LIMITS)
    assert table.headers == ["Фамилия, имя", "email"]
    assert table.rows == [["Петрова, Анна", "anna@example.ru"]]


def test_a_one_column_csv_and_cyrillic_only_after_the_first_bytes_are_fine():
    assert read_table(b"email\na@example.com\n", CSV, LIMITS).rows == [["a@example.com"]]
    late = "email;имя\n" + "a@example.com;x\n" * 100 + "b@example.com;Борис\n"
    assert read_table(late.encode("cp1251"), CSV, LIMITS).rows[-1] == ["b@example.com", "Борис"]


def test_an_uncalculated_formula_reads_as_uncalculated_and_a_calculated_one_as_its_value():
    book = xlsx_bytes([["email", "имя"], ["a@example.com", "=UPPER(B3)"], [None, None]])
    calculated = workbook_with_parts(
        {
            "xl/worksheets/sheet1.xml": [
                SHEET_START,
                b'<row r="2"><c r="A2" t="str"><f>LOWER("A@EXAMPLE.COM")</f><v>a@example.com</v></c></row>',
                SHEET_END,
            ]
        }
    )

    [[address, name]] = read_table(book, XLSX, LIMITS).rows
    assert address == "a@example.com" and name is UNCALCULATED  # not None: a blank it is not
    assert read_table(calculated, XLSX, LIMITS).rows == [["a@example.com"]]


def test_a_cp1251_csv_whose_cyrillic_starts_past_the_sniffed_beginning_is_read_as_cp1251():
    ascii_rows = "email,name\n" + "client%05d@example.com,Client\n" * 3000  # > 64 KB of ASCII
    late = ascii_rows % tuple(range(3000)) + "boris@example.com,Борис\n"
    assert len(late) > 64 * 1024

    table = read_table(late.encode("cp1251"), CSV, replace(LIMITS, max_rows=5000))

    assert table.rows[-1] == ["boris@example.com", "Борис"]
