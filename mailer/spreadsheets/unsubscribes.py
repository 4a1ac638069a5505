"""XLSX/CSV import and export of the suppression list (django-import-export).

Import reads one column of addresses. Every row goes through `suppression.suppress`, so it is
normalised and its waiting recipients are marked at once; bad rows are reported, not fatal
(see mailer.spreadsheets.reporting).
"""

from import_export import fields, resources, widgets

from mailer.addresses import is_valid_email, normalize_email
from mailer.models import Unsubscribe
from mailer.spreadsheets.reporting import EMAIL_HEADERS, ReportingResourceMixin, canonical_header, spreadsheet_line
from mailer.suppression import suppress

EMAIL_COLUMN = "email"
MISSING_EMAIL_COLUMN = "В файле нет столбца с адресами: назовите его «email»."


class UnsubscribeResource(ReportingResourceMixin, resources.ModelResource):
    email = fields.Field(attribute="email", column_name=EMAIL_COLUMN)
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
        use_transactions = True  # the dry run must roll back the recipients it marked, too
        report_skipped = True  # the preview lists skipped rows as well

    def get_queryset(self):
        return super().get_queryset().select_related("campaign", "created_by")

    def get_user_visible_fields(self):
        # The import page lists what is read from the file: only the address.
        return [f for f in self.get_import_fields() if not f.readonly]

    # --- import -------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        dataset.headers = [canonical_header(h, {EMAIL_COLUMN: EMAIL_HEADERS}) for h in dataset.headers or []]
        if EMAIL_COLUMN not in dataset.headers:
            raise ValueError(MISSING_EMAIL_COLUMN)

    def before_import_row(self, row, row_number=None, **kwargs):
        written = str(row.get(EMAIL_COLUMN) or "").strip()  # XLSX cells may be numbers or empty
        row[EMAIL_COLUMN] = normalize_email(written)
        if not is_valid_email(row[EMAIL_COLUMN]) and any(_filled(v) for v in row.values()):
            self.report.invalid.append((spreadsheet_line(row_number), written))

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not is_valid_email(instance.email):
            return True  # reported by before_import_row (or a blank line)
        if original.pk is not None:
            self.report.duplicates += 1  # on the list already, or earlier in this file
            return True
        return False

    def before_save_instance(self, instance, row, **kwargs):
        instance.source = Unsubscribe.Source.IMPORT
        instance.created_by = kwargs.get("user")

    def do_instance_save(self, instance, is_create):
        entry, _ = suppress(instance.email, source=instance.source, user=instance.created_by)
        instance.pk, instance.created_at = entry.pk, entry.created_at


def _filled(value):
    return value is not None and str(value).strip() != ""
