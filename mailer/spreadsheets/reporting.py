"""What the spreadsheet imports (recipients, the suppression list) share: the headers people
actually write over a column, one pass over the rows that sorts them into good, repeated and
bad ones, and the preview staff confirm.

Bad rows must not block good ones: an invalid address, a row without one, a formula nobody
calculated are reported with their spreadsheet line and a reason; the good rows go in.
Everything here is plain Python over a read `Table`: the database is asked about the good
addresses afterwards, BATCH of them a statement.
"""

import re
from dataclasses import dataclass, field

from django.utils.text import Truncator

from mailer.addresses import is_valid_email, normalize_email
from mailer.exceptions import MailerError
from mailer.spreadsheets.formats import restored_cell
from mailer.spreadsheets.reader import UNCALCULATED, Table, is_blank

EMAIL = "email"
EMAIL_HEADERS = {
    "email",
    "e-mail",
    "e_mail",
    "e mail",
    "mail",
    "email address",
    "e-mail address",
    "email адрес",
    "e-mail адрес",
    "адрес e-mail",
    "адрес email",
    "почта",
    "эл. почта",
    "эл.почта",
    "электронная почта",
    "адрес эл. почты",
    "адрес электронной почты",
    "электронный адрес",
    "адрес",
    "емейл",
    "имейл",
    "мейл",
}
SHOWN_BAD_ROWS = 100  # on the preview page; the rest are counted
SHOWN_IN_MESSAGE = 20  # in a message after the import
SHOWN_VALUE_CHARS = 100  # of a bad row's cell
SAMPLE_ROWS = 10  # the first rows the preview shows as they will be imported
BATCH = 1000  # addresses per database statement

NO_ADDRESS = "нет адреса"
INVALID_ADDRESS = "некорректный адрес"
UNCALCULATED_CELL = "в колонке «{}» формула без сохранённого значения — откройте файл в Excel и сохраните заново"


class MissingEmailColumn(MailerError):
    def __init__(self, headers):
        found = ", ".join(f"«{Truncator(h).chars(40)}»" for h in headers if str(h or "").strip()) or "нет"
        super().__init__(
            "В файле нет колонки с адресами e-mail. Подпишите её в первой строке «email» или «Почта» "
            f"(колонки в файле: {found})."
        )


def header_key(header) -> str:
    """«  Адрес Эл. Почты: » → «адрес эл. почты»: the spellings people use compare equal."""
    cleaned = re.sub(r"\s+", " ", str(header or "").replace("ё", "е").replace("Ё", "Е")).strip(" :*")
    return cleaned.lower()


def canonical_header(header, aliases):
    """`aliases` maps a canonical name to the headers meaning it; others are lower-cased."""
    cleaned = header_key(header)
    return next((name for name, known in aliases.items() if cleaned in known), cleaned)


@dataclass(frozen=True)
class BadRow:
    line: int  # in the spreadsheet: the header is line 1
    value: str  # the address as written, shortened
    reason: str

    def __post_init__(self):
        # The preview lists up to SHOWN_BAD_ROWS of them: a cell of 100 000 characters each
        # would echo the whole file back into the page.
        object.__setattr__(self, "value", Truncator(self.value).chars(SHOWN_VALUE_CHARS))

    def text(self):
        return f"строка {self.line} ({_quoted(self.value)}) — {self.reason}"


@dataclass(frozen=True)
class AddressRow:
    line: int
    email: str  # normalised
    cells: dict  # canonical header → cell text, for the other columns


@dataclass
class Scan:
    """The file's data rows sorted: each address once (the first row has it), the bad ones."""

    headers: list  # canonical
    rows: list[AddressRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    repeats: int = 0  # rows whose address came earlier in the file
    total: int = 0  # data rows that are not blank

    def emails(self):
        return [row.email for row in self.rows]

    def bad_text(self):
        """«строка 3 («bad@») — некорректный адрес, …», at most SHOWN_IN_MESSAGE of them."""
        shown = ", ".join(row.text() for row in self.bad[:SHOWN_IN_MESSAGE])
        more = len(self.bad) - SHOWN_IN_MESSAGE
        return shown + (f" и ещё {more}" if more > 0 else "")


def scan_addresses(table: Table, aliases: dict) -> Scan:
    headers = [canonical_header(header, aliases) for header in table.headers]
    if EMAIL not in headers:
        raise MissingEmailColumn(table.headers)
    position, written_headers = headers.index(EMAIL), dict(zip(headers, table.headers, strict=True))
    scan, seen = Scan(headers=headers), set()
    for line, row in enumerate(table.rows, start=2):
        if is_blank(row):
            continue  # a blank line is not worth a word
        scan.total += 1
        written = _text(row[position])
        email = normalize_email(written)
        uncalculated = next((h for h, cell in zip(headers, row, strict=True) if cell is UNCALCULATED), None)
        if uncalculated is not None:
            scan.bad.append(BadRow(line, written, UNCALCULATED_CELL.format(written_headers[uncalculated])))
        elif not is_valid_email(email):
            scan.bad.append(BadRow(line, written, INVALID_ADDRESS if written else NO_ADDRESS))
        elif email in seen:
            scan.repeats += 1
        else:
            seen.add(email)
            cells = {h: _text(cell) for h, cell in zip(headers, row, strict=True) if h and h != EMAIL}
            scan.rows.append(AddressRow(line, email, cells))
    return scan


@dataclass
class ImportPreview:
    """What the preview page shows: a summary, the bad rows, the first rows as imported."""

    title: str
    summary: list  # (label, number), in reading order
    bad: list[BadRow]
    bad_total: int
    sample_headers: list
    sample_rows: list  # lists of texts

    @property
    def bad_hidden(self):
        return self.bad_total - len(self.bad)


def _text(value):
    """A cell as text: spreadsheets store 42 as 42.0; an exported «'=…» comes back as «=…»."""
    if value is None or value is UNCALCULATED:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(restored_cell(value)).strip()


def _quoted(value):
    return f"«{Truncator(value).chars(60)}»" if value else "пусто"
