"""Recipients in and out of spreadsheets (django-import-export), scoped to one campaign.

Import: the e-mail column is required (header «email», «e-mail», «почта» …), «имя»/«name»
and every other column become template variables («компания» is `{{ company }}`).
Addresses are normalised; repeats in the file and addresses already in the campaign
collapse into one; invalid addresses are skipped and reported with their spreadsheet line
(mailer.spreadsheets.reporting); unsubscribed ones arrive marked.
"""

import json

from import_export import fields, resources, widgets

from mailer import transitions
from mailer.addresses import is_valid_email, normalize_email
from mailer.models import Campaign, CampaignRecipient
from mailer.spreadsheets.reporting import EMAIL_HEADERS, ReportingResourceMixin, canonical_header, spreadsheet_line
from mailer.suppression import suppressed_among

HEADER_ALIASES = {
    "email": EMAIL_HEADERS,
    "name": {"name", "имя", "фио", "контакт", "получатель"},
    "company": {"company", "компания", "организация"},
}
FIXED_COLUMNS = ("campaign", "email", "name")


def report_summary(report):
    """«повторы пропущены: 2; некорректные адреса не импортированы: строка 3 («bad»)»"""
    parts = []
    if report.duplicates:
        parts.append(f"повторы пропущены: {report.duplicates}")
    if report.invalid:
        parts.append(f"некорректные адреса не импортированы: {report.invalid_text()}")
    return "; ".join(parts)


class ReadableJSONWidget(widgets.JSONWidget):
    """Template variables as readable JSON (Cyrillic as is), empty when there are none."""

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value, ensure_ascii=False) if value else ""


class RecipientResource(ReportingResourceMixin, resources.ModelResource):
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

    def __init__(self, campaign=None, **kwargs):
        super().__init__(**kwargs)
        self.campaign = campaign

    # --- export -------------------------------------------------------------------------

    def dehydrate_campaign(self, recipient):
        return recipient.campaign.name

    def dehydrate_status(self, recipient):
        if recipient.status == CampaignRecipient.Status.PENDING and recipient.email in getattr(self, "suppressed", ()):
            # An import marks it right after saving (after_import): the preview says so already.
            return CampaignRecipient.Status.UNSUBSCRIBED.label
        return recipient.get_status_display()

    # --- import -------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        dataset.headers = [canonical_header(header, HEADER_ALIASES) for header in dataset.headers]
        if "email" not in dataset.headers:
            raise ValueError("В файле нет колонки с адресами: назовите её «email» или «почта».")
        self.extra_columns = [h for h in dataset.headers if h and h not in FIXED_COLUMNS]
        # import-export matches rows by (campaign, email): the campaign comes from the form.
        if "campaign" in dataset.headers:
            del dataset["campaign"]
        dataset.append_col([self.campaign.pk] * len(dataset), header="campaign")
        emails = {normalize_email(str(value or "")) for value in dataset["email"]}
        self.suppressed = suppressed_among(emails)
        self.seen = set()

    def before_import_row(self, row, row_number=None, **kwargs):
        written = str(row.get("email") or "").strip()
        row["email"] = normalize_email(written)
        row["name"] = str(row.get("name") or "").strip()
        self.current = (spreadsheet_line(row_number), written)

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.pk is None:
            instance.variables = {c: _cell(row[c]) for c in self.extra_columns if _cell(row[c])}

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if self.suppressed:  # addresses that unsubscribed earlier arrive marked: they get nothing
            transitions.mark_unsubscribed(campaign_id=self.campaign.pk, emails=self.suppressed)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        email = row["email"]
        if not is_valid_email(email):
            self.report.invalid.append((self.current[0], self.current[1] or "пусто"))
            return True
        if instance.pk is not None or email in self.seen:
            self.report.duplicates += 1
            return True  # already in the campaign, or earlier in this file: keep the first
        self.seen.add(email)
        return False


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store 42 as 42.0
    return str(value).strip()
