"""Recipients in and out of spreadsheets, scoped to one campaign.

Import: the e-mail column is required (header «email», «E-mail адрес», «Почта» …), «имя»/«name»
and every other column become template variables («компания» is `{{ company }}`).
Addresses are normalised; repeats in the file and addresses already in the campaign
collapse into one; bad rows are reported with their spreadsheet line and the reason
(mailer.spreadsheets.reporting); unsubscribed ones arrive marked. The preview and the import
ask the database about the file's addresses in sets of a thousand, and the import writes
through `services.add_recipients` (bulk inserts): the statements do not grow per row.

Export: django-import-export's resource, statuses in Russian.
"""

import json
from itertools import batched

from import_export import fields, resources, widgets

from mailer import services
from mailer.models import Campaign, CampaignRecipient
from mailer.spreadsheets.reader import Table
from mailer.spreadsheets.reporting import (
    BATCH,
    EMAIL,
    EMAIL_HEADERS,
    SAMPLE_ROWS,
    SHOWN_BAD_ROWS,
    ImportPreview,
    Scan,
    scan_addresses,
)
from mailer.suppression import suppressed_among

HEADER_ALIASES = {
    EMAIL: EMAIL_HEADERS,
    "name": {"name", "full name", "имя", "фио", "имя и фамилия", "контакт", "контактное лицо", "получатель"},
    "company": {"company", "компания", "организация", "название компании", "наименование организации"},
}
FIXED_COLUMNS = (EMAIL, "name", "campaign")  # an exported list names its campaign: not a variable
Status = CampaignRecipient.Status


def preview_recipients(table: Table, *, campaign: Campaign) -> ImportPreview:
    """What importing `table` into `campaign` would do; writes nothing."""
    scan = scan_addresses(table, HEADER_ALIASES)
    existing = _existing(campaign, scan.emails())
    suppressed = suppressed_among(email for email in scan.emails() if email not in existing)
    new = [row for row in scan.rows if row.email not in existing]
    extra = _variable_columns(scan)
    return ImportPreview(
        title=f"Импорт получателей в кампанию «{campaign.name}»",
        summary=[
            ("Строк с данными в файле", scan.total),
            ("Будут добавлены", len(new)),
            (
                f"из них отписались ранее (добавятся со статусом «{Status.UNSUBSCRIBED.label}», писем не получат)",
                len(suppressed),
            ),
            ("Повторы в файле (пропускаются)", scan.repeats),
            ("Уже есть в кампании (пропускаются)", len(existing)),
            ("Строки с ошибками (не импортируются)", len(scan.bad)),
        ],
        bad=scan.bad[:SHOWN_BAD_ROWS],
        bad_total=len(scan.bad),
        sample_headers=["Строка", "E-mail", "Имя", "Статус", "Переменные шаблона"],
        sample_rows=[
            [
                row.line,
                row.email,
                row.cells.get("name", ""),
                (Status.UNSUBSCRIBED if row.email in suppressed else Status.PENDING).label,
                "; ".join(f"{h}: {row.cells[h]}" for h in extra if row.cells.get(h)),
            ]
            for row in new[:SAMPLE_ROWS]
        ],
    )


def import_recipients(table: Table, *, campaign: Campaign) -> tuple[Scan, services.AddedRecipients]:
    """Adds the file's good rows to `campaign` (a MailerError if it may not change)."""
    scan = scan_addresses(table, HEADER_ALIASES)
    extra = _variable_columns(scan)
    recipients = (
        services.NewRecipient(
            email=row.email,
            name=row.cells.get("name", ""),
            variables={h: row.cells[h] for h in extra if row.cells.get(h)},
        )
        for row in scan.rows
    )
    added = services.add_recipients(campaign=campaign, recipients=recipients)
    added.duplicates += scan.repeats
    return scan, added


def _variable_columns(scan):
    return [h for h in scan.headers if h and h not in FIXED_COLUMNS]


def _existing(campaign, emails):
    found = set()
    for batch in batched(emails, BATCH):
        found.update(campaign.recipients.filter(email__in=batch).values_list("email", flat=True))
    return found


class ReadableJSONWidget(widgets.JSONWidget):
    """Template variables as readable JSON (Cyrillic as is), empty when there are none."""

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value, ensure_ascii=False) if value else ""


class RecipientResource(resources.ModelResource):
    """The export (the import reads the file itself: `preview_recipients`, `import_recipients`)."""

    campaign = fields.Field(attribute="campaign", column_name="campaign", widget=widgets.ForeignKeyWidget(Campaign))
    email = fields.Field(attribute="email", column_name="email")
    name = fields.Field(attribute="name", column_name="name")
    status = fields.Field(attribute="status", column_name="status", readonly=True)
    error = fields.Field(attribute="last_error", column_name="error", readonly=True)
    attempts = fields.Field(attribute="attempts", column_name="attempts", readonly=True)
    sent_at = fields.Field(
        attribute="sent_at", column_name="sent_at", readonly=True, widget=widgets.DateTimeWidget("%Y-%m-%d %H:%M")
    )
    variables = fields.Field(attribute="variables", column_name="variables", readonly=True, widget=ReadableJSONWidget())

    class Meta:
        model = CampaignRecipient
        import_id_fields = ("campaign", "email")
        fields = ("campaign", "email", "name", "status", "error", "attempts", "sent_at", "variables")
        skip_unchanged = False

    # --- export -------------------------------------------------------------------------

    def dehydrate_campaign(self, recipient):
        return recipient.campaign.name

    def dehydrate_status(self, recipient):
        return recipient.get_status_display()
