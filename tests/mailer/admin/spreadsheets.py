"""Driving the two spreadsheet screens (recipients, the suppression list) as staff do, and
building the files they upload."""

import io
import zipfile
from dataclasses import dataclass

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

from mailer.models import CampaignRecipient, Unsubscribe

XLSX, CSV = "0", "1"  # both screens offer the formats in this order


@dataclass(frozen=True)
class Screen:
    name: str
    url: str
    needs_campaign: bool

    def preview(self, client, upload, file_format, campaign=None):
        data = {"format": file_format, "resource": "0", "import_file": upload}
        if self.needs_campaign:
            data["campaign"] = campaign.pk
        return client.post(self.url + "import/", data)

    def confirm(self, client, data):
        return client.post(self.url + "process_import/", data, follow=True)

    def imported(self):
        """Addresses the screen's table holds (recipients of any campaign, or the list)."""
        model = CampaignRecipient if self.needs_campaign else Unsubscribe
        return sorted(model.objects.values_list("email", flat=True))


RECIPIENTS = Screen("recipients", "/admin/mailer/campaignrecipient/", needs_campaign=True)
UNSUBSCRIBES = Screen("unsubscribes", "/admin/mailer/unsubscribe/", needs_campaign=False)
SCREENS = [RECIPIENTS, UNSUBSCRIBES]


def confirm_data(preview):
    """What the preview's «Подтвердить импорт» form posts."""
    form = preview.context["confirm_form"]
    assert form is not None, preview.content.decode()[:3000]
    return {name: form.initial.get(name, "") for name in form.fields}


def file_errors(response):
    """The import page's errors under the file field, after checking the page shows them."""
    errors = response.context["form"].errors.get("import_file", [])
    page = response.content.decode()
    assert all(error in page for error in errors)
    return errors


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def csv_upload(text, name="list.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def xlsx_bytes(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_upload(rows, name="list.xlsx"):
    return SimpleUploadedFile(name, xlsx_bytes(rows))


def xlsx_with_parts(parts, name="list.xlsx"):
    return SimpleUploadedFile(name, workbook_with_parts(parts))


def workbook_with_parts(parts):
    """A real workbook whose parts named in `parts` (path → iterable of bytes chunks) are
    replaced or added: streamed into the zip, so a part may unpack to far more than memory
    holds. Adding xl/sharedStrings.xml registers it, as Excel does (openpyxl writes none)."""
    template = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["email"], ["a@example.com"]])))
    registered = {
        "[Content_Types].xml": (b"</Types>", SHARED_STRINGS_TYPE),
        "xl/_rels/workbook.xml.rels": (b"</Relationships>", SHARED_STRINGS_REL),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        for member in template.infolist():
            content = template.read(member.filename)
            if SHARED_STRINGS in parts and member.filename in registered:
                end, entry = registered[member.filename]
                content = content.replace(end, entry + end)
            if member.filename not in parts:
                book.writestr(member, content)
        for part_name, chunks in parts.items():
            with book.open(part_name, "w") as part:
                for chunk in chunks:
                    part.write(chunk)
    return buffer.getvalue()


SHARED_STRINGS = "xl/sharedStrings.xml"
SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
SHARED_STRINGS_REL = (
    b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
)
MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def shared_strings_xml(items):
    """xl/sharedStrings.xml: each item is the XML inside one <si>, e.g. b"<t>email</t>"."""
    yield b'<sst xmlns="%s">' % MAIN_NS
    for item in items:
        yield b"<si>%s</si>" % item
    yield b"</sst>"


SHEET_START = (  # no <dimension>, as some writers (openpyxl's write-only mode) do
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="%s"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c></row>' % MAIN_NS
)
SHEET_END = b"</sheetData></worksheet>"


def sheet_xml(rows_xml, *, times):
    """sheet1.xml: a header row, then `rows_xml` repeated `times` times, in chunks."""
    yield SHEET_START
    for _ in range(times // 10_000):
        yield rows_xml * 10_000
    yield rows_xml * (times % 10_000)
    yield SHEET_END
