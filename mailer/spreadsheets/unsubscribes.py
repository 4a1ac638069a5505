"""XLSX/CSV import and export of the suppression list.

Import reads one column of addresses (the other columns are ignored). Bad rows are reported
with their spreadsheet line and the reason (mailer.spreadsheets.reporting); the good
addresses go onto the list through `suppression.suppress_many`, which adds them in bulk and
marks their waiting recipients in one statement.

Export: django-import-export's resource.
"""

from import_export import fields, resources, widgets

from mailer.models import Unsubscribe
from mailer.spreadsheets.reader import Table
from mailer.spreadsheets.reporting import (
    EMAIL,
    EMAIL_HEADERS,
    SAMPLE_ROWS,
    SHOWN_BAD_ROWS,
    ImportPreview,
    Scan,
    scan_addresses,
)
from mailer.suppression import SuppressedMany, suppress_many, suppressed_among

ALIASES = {EMAIL: EMAIL_HEADERS}


def preview_unsubscribes(table: Table) -> ImportPreview:
    """What importing `table` onto the list would do; writes nothing."""
    scan = scan_addresses(table, ALIASES)
    listed = suppressed_among(scan.emails())
    new = [row for row in scan.rows if row.email not in listed]
    return ImportPreview(
        title="Импорт в список отписок",
        summary=[
            ("Строк с данными в файле", scan.total),
            ("Будут добавлены в список", len(new)),
            ("Уже в списке (пропускаются)", len(listed)),
            ("Повторы в файле (пропускаются)", scan.repeats),
            ("Строки с ошибками (не импортируются)", len(scan.bad)),
        ],
        bad=scan.bad[:SHOWN_BAD_ROWS],
        bad_total=len(scan.bad),
        sample_headers=["Строка", "E-mail"],
        sample_rows=[[row.line, row.email] for row in new[:SAMPLE_ROWS]],
    )


def import_unsubscribes(table: Table, *, user) -> tuple[Scan, SuppressedMany]:
    scan = scan_addresses(table, ALIASES)
    return scan, suppress_many(scan.emails(), source=Unsubscribe.Source.IMPORT, user=user)


class UnsubscribeResource(resources.ModelResource):
    """The export (the import reads the file itself: `preview_unsubscribes`, `import_unsubscribes`)."""

    email = fields.Field(attribute="email", column_name=EMAIL)
    source = fields.Field(attribute="get_source_display", column_name="источник", readonly=True)
    campaign = fields.Field(attribute="campaign__name", column_name="кампания", readonly=True)
    created_by = fields.Field(attribute="created_by__username", column_name="добавил", readonly=True)
    created_at = fields.Field(
        attribute="created_at", column_name="дата", readonly=True, widget=widgets.DateTimeWidget("%d.%m.%Y %H:%M")
    )

    class Meta:
        model = Unsubscribe
        name = "Отписки"
        fields = ("email", "source", "campaign", "created_by", "created_at")
        import_id_fields = ("email",)

    def get_queryset(self):
        return super().get_queryset().select_related("campaign", "created_by")

    def get_user_visible_fields(self):
        # The import page lists what is read from the file: only the address.
        return [f for f in self.get_import_fields() if not f.readonly]
