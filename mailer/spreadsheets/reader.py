"""Reading an uploaded spreadsheet (XLSX or CSV) into headers and rows, within limits.

Every import reads its file through `read_table()`. The limits are checked as early as each
format allows, so a hostile file costs about as much as a harmless one:

- bytes, before anything is parsed;
- for XLSX, the sizes the zip declares for its members, before openpyxl opens it. A member
  cannot inflate past its declared size: zipfile stops there and the CRC check fails, which
  refuses the file as unreadable;
- rows and cells, while reading: the first row past a limit ends the read. openpyxl's own
  read-only sheet would first parse a sheet lacking <dimension> whole, and its table of
  distinct texts (shared strings) comes before any row: the one is skipped, the other is
  counted as it is read.

Everything a reader can say about a file is a `SpreadsheetRefused` with the Russian text
shown on the import page.

Files as staff really have them: a CSV may be UTF-8 (with or without a BOM) or cp1251 (what
Russian Excel writes for «CSV (разделители — запятые)»), with `,`, `;` (Russian Excel's) or a
tab between cells. An XLSX cell holding a formula that was never calculated (files written by
programs, not by Excel) reads as `UNCALCULATED`, so the import can refuse that row instead of
taking the cell as empty.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree.ElementTree import iterparse

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from mailer.exceptions import MailerError
from mailer.spreadsheets import csv_text

XLSX = "xlsx"
CSV = "csv"

# Blank lines after the last filled one (an extra Enter, a formatted row) are forgiven up to
# this many beyond the row limit; past that, reading stops whatever the rows hold.
TRAILING_BLANK_ROWS = 100
# Distinct texts an XLSX may hold per allowed row (its shared strings, read before any row).
TEXTS_PER_ROW = 20
# Cells (row width × rows, as read) per allowed row: parsing costs per cell, so a sheet of
# 10 000 rows × 500 columns must not pass as 10 000 rows.
CELLS_PER_ROW = 50
# A zip member smaller than this is not worth a ratio check: the total size still bounds it.
RATIO_CHECKED_FROM_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int
    max_rows: int
    max_uncompressed_bytes: int
    max_compression_ratio: int

    @classmethod
    def from_settings(cls) -> "ReadLimits":
        # The row limit is the campaign's: no import may bring more than one campaign holds.
        return cls(
            max_bytes=settings.MAILER_IMPORT_MAX_BYTES,
            max_rows=settings.MAILER_MAX_CAMPAIGN_RECIPIENTS,
            max_uncompressed_bytes=settings.MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES,
            max_compression_ratio=settings.MAILER_IMPORT_MAX_COMPRESSION_RATIO,
        )

    @property
    def max_cells(self) -> int:
        return self.max_rows * CELLS_PER_ROW

    def hint(self) -> str:
        """What the import form says under its file field."""
        size, rows = filesizeformat(self.max_bytes), _count(self.max_rows)
        return (
            f"XLSX или CSV (UTF-8 или Windows-1251; разделитель «,», «;» или табуляция), до {size} "
            f"и не больше {rows} строк."
        )


class _Uncalculated(str):
    """A formula cell without a stored result: not blank, and never a value to import."""


UNCALCULATED = _Uncalculated("")


@dataclass
class Table:
    headers: list
    rows: list[list]  # data rows, each as wide as the headers; blank rows at the end dropped


class SpreadsheetRefused(MailerError):
    """`reason` is a short code for the logs: too_big, zip_bomb, too_many_texts, too_many_rows,
    too_many_cells, unreadable or empty."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


def read_table(source: bytes | BinaryIO, kind: str, limits: ReadLimits | None = None) -> Table:
    """The active sheet of an XLSX, or a CSV: its first row is the headers."""
    limits = limits or ReadLimits.from_settings()
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    check_size(_size_of(stream), limits)
    if kind == XLSX:
        lines = _xlsx_lines(stream, limits)
    elif kind == CSV:
        lines = _csv_lines(stream)
    else:
        raise ValueError(f"unknown spreadsheet kind {kind!r}")
    try:
        return _bounded_table(lines, limits)
    finally:
        lines.close()  # an early stop must still close the workbook


def check_size(size: int, limits: ReadLimits | None = None) -> None:
    """The byte limit alone: the import form checks it before the file is stored or read."""
    limits = limits or ReadLimits.from_settings()
    if size > limits.max_bytes:
        raise SpreadsheetRefused(
            f"Файл слишком большой ({filesizeformat(size)}): можно загрузить не больше "
            f"{filesizeformat(limits.max_bytes)}. Разделите его на части.",
            reason="too_big",
        )


# --- rows ------------------------------------------------------------------------------------


def _bounded_table(lines: Iterator[list], limits: ReadLimits) -> Table:
    headers = next(lines, None)
    if headers is None:
        raise SpreadsheetRefused("Файл пуст: в нём нет ни одной строки.", reason="empty")
    headers, max_rows = list(headers), limits.max_rows
    rows, blank_run, cells = [], 0, len(headers)
    for position, line in enumerate(lines, start=1):
        cells += len(line)
        if cells > limits.max_cells:
            raise _too_many_cells(limits.max_cells)
        if is_blank(line):
            blank_run += 1
            if position > max_rows + TRAILING_BLANK_ROWS:
                raise _too_many_rows(max_rows)
            continue
        if position > max_rows:
            raise _too_many_rows(max_rows)
        # Blank rows between filled ones stay, so the rows keep their line numbers.
        rows.extend([None] * len(headers) for _ in range(blank_run))
        blank_run = 0
        rows.append(_fitted(line, len(headers)))
    return Table(headers=headers, rows=rows)


def _too_many_rows(max_rows):
    limit = _count(max_rows)
    return SpreadsheetRefused(
        f"В файле больше {limit} строк с данными, а за один раз можно загрузить не больше {limit} "
        "(столько получателей вмещает одна кампания). Разделите файл на части.",
        reason="too_many_rows",
    )


def _too_many_cells(max_cells):
    return SpreadsheetRefused(
        f"В таблице больше {_count(max_cells)} ячеек (строки × колонки) — столько за один раз не "
        "загрузить. Удалите ненужные колонки или разделите файл на части.",
        reason="too_many_cells",
    )


def _fitted(line, width):
    """As wide as the headers: a cell without a header has no name to import it under."""
    cells = list(line[:width])
    return cells + [None] * (width - len(cells))


def is_blank(line):
    return all(_is_blank_cell(cell) for cell in line)


def _is_blank_cell(cell):
    return cell is None or (isinstance(cell, str) and cell is not UNCALCULATED and not cell.strip())


# --- XLSX ------------------------------------------------------------------------------------

STRING_ITEM, TEXT, RICH_TEXT_RUN = (f"{{{SHEET_MAIN_NS}}}{tag}" for tag in ("si", "t", "r"))
NOT_XLSX = (
    "Файл не читается как книга Excel (XLSX). Если это CSV, выберите формат «csv»; иначе "
    "откройте файл в Excel и сохраните как «Книга Excel (*.xlsx)»."
)


def _xlsx_lines(stream: BinaryIO, limits: ReadLimits) -> Iterator[list]:
    _check_unpacked_sizes(stream, limits)
    try:
        sheet = _active_sheet(stream, limits.max_rows)
    except SpreadsheetRefused:
        raise
    except Exception as exc:  # openpyxl raises anything from KeyError to XML errors on a broken file
        raise SpreadsheetRefused(NOT_XLSX, reason="unreadable") from exc
    try:
        yield from _unreadable_as(_sheet_rows(sheet), NOT_XLSX)
    finally:
        sheet.parent._archive.close()


class _FormulaAwareParser(WorkSheetParser):
    """openpyxl's parser of sheet XML (data only), telling an uncalculated formula from a blank."""

    def parse_cell(self, element):
        cell = super().parse_cell(element)
        # openpyxl itself writes such a cell with an empty <v/>; others leave <v> out.
        if cell["value"] is None and element.find(FORMULA_TAG) is not None and not element.findtext(VALUE_TAG):
            cell["value"] = UNCALCULATED
        return cell


def _sheet_rows(sheet: ReadOnlyWorksheet) -> Iterator[list]:
    """What `sheet.iter_rows(values_only=True)` gives, through `_FormulaAwareParser`: each row
    as a list as wide as its last cell; a row missing from the XML comes as an empty one."""
    book = sheet.parent
    with sheet._get_source() as source:
        parser = _FormulaAwareParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        expected = 1
        for number, cells in parser.parse():
            for _ in range(expected, number):
                yield []
            expected = number + 1
            line = [None] * (cells[-1]["column"] if cells else 0)
            for cell in cells:
                line[cell["column"] - 1] = cell["value"]
            yield line


class _RowsAsTheyCome(ReadOnlyWorksheet):
    """openpyxl's read-only sheet without its size probe: for a sheet that lacks a <dimension>
    the probe parses the whole sheet before the first row is read (13 s for 200 000 rows).
    Without it the sheet's size is unknown, and rows are counted as they come."""

    def _get_size(self):
        pass


def _active_sheet(stream: BinaryIO, max_rows: int) -> ReadOnlyWorksheet:
    """What `load_workbook(read_only=True).active` gives, without probing every sheet."""
    reader = ExcelReader(stream, read_only=True, data_only=True)
    try:
        reader.read_manifest()
        reader.shared_strings = _shared_strings(reader, max_rows)
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)  # number formats tell dates from numbers
        sheets = list(reader.parser.find_sheets())
        active = reader.wb._active_sheet_index  # the tab the file was saved on, as openpyxl reads it
        sheet, part = sheets[active] if 0 <= active < len(sheets) else sheets[0]
        if "chartsheet" in part.Type or part.target not in reader.valid_files:
            raise SpreadsheetRefused(NOT_XLSX, reason="unreadable")
    except BaseException:
        reader.archive.close()
        raise
    return _RowsAsTheyCome(reader.wb, sheet.name, part.target, reader.shared_strings)


def _shared_strings(reader: ExcelReader, max_rows: int) -> list[str]:
    """The workbook's table of distinct texts, as openpyxl reads it, but counted as it is read:
    all of it is read before the first row, so the row limit cannot stop it."""
    part = reader.package.find(SHARED_STRINGS)
    if part is None:
        return []
    strings, limit = [], max_rows * TEXTS_PER_ROW
    with reader.archive.open(part.PartName[1:]) as source:
        for _event, element in iterparse(source):
            if element.tag != STRING_ITEM:
                continue
            runs = [element.find(TEXT), *(run.find(TEXT) for run in element.iterfind(RICH_TEXT_RUN))]
            strings.append("".join(run.text or "" for run in runs if run is not None).replace("x005F_", ""))
            element.clear()
            if len(strings) > limit:
                raise SpreadsheetRefused(
                    f"В файле больше {_count(limit)} разных текстовых значений — слишком много для "
                    f"{_count(max_rows)} строк. Оставьте в таблице только нужные колонки.",
                    reason="too_many_texts",
                )
    return strings


def _check_unpacked_sizes(stream: BinaryIO, limits: ReadLimits) -> None:
    try:
        members = zipfile.ZipFile(stream).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpreadsheetRefused(NOT_XLSX, reason="unreadable") from exc
    finally:
        stream.seek(0)
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_uncompressed_bytes:
        raise SpreadsheetRefused(
            f"Файл XLSX распаковывается в {filesizeformat(unpacked)}, а можно не больше "
            f"{filesizeformat(limits.max_uncompressed_bytes)}. Разделите таблицу на части.",
            reason="zip_bomb",
        )
    for member in members:
        if member.file_size >= RATIO_CHECKED_FROM_BYTES and (
            member.file_size > member.compress_size * limits.max_compression_ratio
        ):
            raise SpreadsheetRefused(
                "Файл XLSX сжат неправдоподобно сильно (так выглядят файлы-«бомбы», а не таблицы "
                "Excel) и не принят. Откройте его в Excel и сохраните заново.",
                reason="zip_bomb",
            )


# --- CSV -------------------------------------------------------------------------------------

NOT_CSV = (
    "Файл не читается как CSV (UTF-8 или Windows-1251). Если это книга Excel, выберите формат «xlsx»; "
    "иначе сохраните таблицу в Excel как «CSV UTF-8» или «CSV (разделители — запятые)»."
)
# The beginning of a CSV that tells its encoding and its delimiter.
SNIFFED_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
BINARY_MARKS = (b"\x00", b"PK\x03\x04")  # a NUL byte, or a zip (an XLSX chosen as CSV)


def _csv_lines(stream: BinaryIO) -> Iterator[list]:
    head = stream.read(SNIFFED_BYTES)
    stream.seek(0)
    if any(mark in head for mark in BINARY_MARKS):
        raise SpreadsheetRefused(NOT_CSV, reason="unreadable")
    first_line = head.decode("utf-8", errors="replace").lstrip("\ufeff").partition("\n")[0]
    # Decoded and split as it is read, so an early stop leaves the rest of the file unread.
    lines = csv_text.lines(csv_text.utf8_or_cp1251(stream, chunk_bytes=SNIFFED_BYTES))
    yield from _unreadable_as(csv.reader(lines, delimiter=_delimiter_of(first_line)), NOT_CSV)


def _delimiter_of(header_line: str) -> str:
    """The delimiter the header line uses most; a one-column file has none, and takes `,`."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)  # «"Фамилия, имя";email» splits at `;`
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=counts.__getitem__)
    return best if counts[best] else ","


def _unreadable_as(rows, message):
    try:
        yield from rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpreadsheetRefused(message, reason="unreadable") from exc
    except SpreadsheetRefused:
        raise
    except Exception as exc:  # a sheet that breaks midway (bad XML, bad CRC) is just as unreadable
        raise SpreadsheetRefused(message, reason="unreadable") from exc


# --- helpers ---------------------------------------------------------------------------------


def _count(number):
    return f"{number:,}".replace(",", "\u00a0")  # 10 000, as Russian text writes it


def _size_of(stream: BinaryIO) -> int:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size
