"""What the spreadsheet imports (recipients, the suppression list) share: the headers people
actually write over a column, and a report of the rows an import did not take.

Bad rows must not block good ones: invalid addresses and repeats are skipped and reported
with their spreadsheet line, instead of being import-export validation errors, which would
withhold the «Подтвердить импорт» button.
"""

from dataclasses import dataclass, field

from django.utils.text import Truncator
from import_export.results import Result

EMAIL_HEADERS = {"email", "e-mail", "e_mail", "mail", "почта", "эл. почта", "электронная почта", "адрес", "емейл"}
SHOWN_INVALID_ROWS = 20  # a message, not a report: the rest is counted


def canonical_header(header, aliases):
    """`aliases` maps a canonical name to the headers meaning it; others are lower-cased."""
    cleaned = str(header or "").strip().lower()
    return next((name for name, known in aliases.items() if cleaned in known), cleaned)


def spreadsheet_line(row_number):
    """import-export numbers data rows from 1; the header is the spreadsheet's line 1."""
    return row_number + 1


@dataclass
class ImportReport:
    invalid: list = field(default_factory=list)  # (spreadsheet line, value as written)
    duplicates: int = 0  # already there, or repeated in the file

    def invalid_text(self):
        """«строка 3 (bad@), строка 7 (пусто)», at most SHOWN_INVALID_ROWS of them."""
        rows = [f"строка {line} ({_quoted(value)})" for line, value in self.invalid]
        more = len(rows) - SHOWN_INVALID_ROWS
        return ", ".join(rows[:SHOWN_INVALID_ROWS]) + (f" и ещё {more}" if more > 0 else "")


class ReportedResult(Result):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = ImportReport()


class ReportingResourceMixin:
    """Gives an import's Result the resource's ImportReport, for the admin's messages."""

    @classmethod
    def get_result_class(cls):
        return ReportedResult

    def before_import(self, dataset, **kwargs):
        self.report = ImportReport()
        super().before_import(dataset, **kwargs)

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        result.report = self.report


def _quoted(value):
    return f"«{Truncator(value).chars(60)}»" if value else "пусто"
