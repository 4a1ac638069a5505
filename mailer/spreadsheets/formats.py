"""The spreadsheet formats of the admin's imports and exports (django-import-export).

Imports read through `spreadsheets.reader`, within its limits. Exports carry no live
formulas: a text cell that a spreadsheet program would run (leading `= + - @`, tab or CR)
gets a leading apostrophe, in CSV and XLSX alike. Importing such a cell takes the apostrophe
off again, so an exported list imports back unchanged.
"""

import tablib
from import_export.formats import base_formats

from mailer.spreadsheets.reader import CSV, XLSX

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"


def neutralised_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return NEUTRALISER + value
    return value


def restored_cell(value):
    if isinstance(value, str) and value.startswith(NEUTRALISER) and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def neutralised(dataset: tablib.Dataset) -> tablib.Dataset:
    """A copy of an export's dataset, every text cell (headers too) safe to open."""
    safe = tablib.Dataset(title=dataset.title)
    if dataset.headers:
        safe.headers = [neutralised_cell(header) for header in dataset.headers]
    for row in dataset:
        safe.append([neutralised_cell(cell) for cell in row])
    return safe


# The import form's format choices. The admin reads the chosen file through
# `reader.read_table(…, kind)` itself (mailer.admin.spreadsheet_io), never through tablib.
class BoundedXLSX(base_formats.XLSX):
    kind = XLSX


class BoundedCSV(base_formats.CSV):
    kind = CSV


# The admin's choices, in this order. Exports keep import-export's own classes: it writes
# native numbers and dates only for exactly those (`type(format) in BINARY_FORMATS`).
IMPORT_FORMATS = [BoundedXLSX, BoundedCSV]
EXPORT_FORMATS = [base_formats.XLSX, base_formats.CSV]
