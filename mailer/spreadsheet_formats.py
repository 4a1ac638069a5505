"""The spreadsheet formats of the admin's imports and exports (django-import-export).

Imports read through `spreadsheet_reader`, within its limits.
"""

import tablib
from import_export.formats import base_formats

from .spreadsheet_reader import CSV, XLSX, Table, read_table


def _dataset(table: Table) -> tablib.Dataset:
    dataset = tablib.Dataset(headers=table.headers)
    for row in table.rows:
        dataset.append(row)
    return dataset


class BoundedXLSX(base_formats.XLSX):
    def create_dataset(self, in_stream):
        return _dataset(read_table(in_stream, XLSX))


class BoundedCSV(base_formats.CSV):
    def create_dataset(self, in_stream, **kwargs):
        data = in_stream.encode("utf-8") if isinstance(in_stream, str) else in_stream
        return _dataset(read_table(data, CSV))


# The admin's choices, in this order. Exports keep import-export's own classes: it writes
# native numbers and dates only for exactly those (`type(format) in BINARY_FORMATS`).
IMPORT_FORMATS = [BoundedXLSX, BoundedCSV]
EXPORT_FORMATS = [base_formats.XLSX, base_formats.CSV]
