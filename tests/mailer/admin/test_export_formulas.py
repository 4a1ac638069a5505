"""Exports carry no live formulas (issue 8, finding 6): recipients and the suppression list, CSV
and XLSX. A text cell a spreadsheet program would run gets a leading apostrophe; XLSX cells are
text, never formulas; and an exported list imports back unchanged."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailer.models import CampaignRecipient, Unsubscribe
from mailer.suppression import suppress
from tests.conftest import make_campaign
from tests.mailer.admin.spreadsheets import CSV, RECIPIENTS, UNSUBSCRIBES, XLSX, confirm_data

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil","x")'
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile_recipients(manager_a):
    campaign = make_campaign(
        manager_a, emails=["anna@example.com", "boris@example.com", "vera@example.com"], name="@кампания"
    )
    rows = {
        "anna@example.com": (EVIL, "+7 remote said no", {"город": "=1+1"}),
        "boris@example.com": ("-2+3", "@SUM(A1)", {}),
        "vera@example.com": ("\tTAB", "\rCR", {}),
    }
    for email, (name, error, variables) in rows.items():
        CampaignRecipient.objects.filter(campaign=campaign, email=email).update(
            name=name, last_error=error, variables=variables, status="failed"
        )


@pytest.fixture
def hostile_suppression_list(manager_a, django_user_model):
    campaign = make_campaign(manager_a, name=EVIL)
    attacker = django_user_model.objects.create_user("+evil", "evil@crm.example", "pass", is_staff=True)
    suppress("-ivan@example.com", source=Unsubscribe.Source.ONE_CLICK, campaign=campaign)
    suppress("=cmd@example.com", source=Unsubscribe.Source.MANUAL, user=attacker)


def exported(client, screen, file_format):
    response = client.post(screen.url + "export/", {"format": file_format, "resource": "0"})
    assert response.status_code == 200, response.content.decode()[:2000]
    if file_format == CSV:
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active  # formulas kept as formulas
    assert [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"] == []
    # XML reads a CR back as LF (and these cells hold no LF of their own).
    return [[_cr(cell.value) for cell in row] for row in sheet.iter_rows()]


def _cr(value):
    return value.replace("\n", "\r") if isinstance(value, str) else value


def assert_inert(rows, *expected):
    cells = [cell for row in rows for cell in row if isinstance(cell, str)]
    assert [cell for cell in cells if cell.startswith(TRIGGERS)] == []
    for value in expected:
        assert "'" + value in cells, value


@pytest.mark.parametrize("file_format", [CSV, XLSX], ids=["csv", "xlsx"])
def test_the_recipients_export_has_no_live_formula(client, manager_a, hostile_recipients, file_format):
    client.force_login(manager_a)
    rows = exported(client, RECIPIENTS, file_format)

    assert_inert(rows, EVIL, "+7 remote said no", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "@кампания")
    assert len(rows) == 4
    assert '{"город": "=1+1"}' in [cell for row in rows for cell in row]  # JSON starts with «{»


@pytest.mark.parametrize("file_format", [CSV, XLSX], ids=["csv", "xlsx"])
def test_the_suppression_list_export_has_no_live_formula(client, manager_a, hostile_suppression_list, file_format):
    client.force_login(manager_a)
    rows = exported(client, UNSUBSCRIBES, file_format)

    assert_inert(rows, EVIL, "+evil", "-ivan@example.com", "=cmd@example.com")


@pytest.mark.parametrize("file_format", [CSV, XLSX], ids=["csv", "xlsx"])
def test_an_exported_suppression_list_imports_back_unchanged(
    client, manager_a, hostile_suppression_list, import_uploads, file_format
):
    client.force_login(manager_a)
    response = client.post(UNSUBSCRIBES.url + "export/", {"format": file_format, "resource": "0"})
    Unsubscribe.objects.all().delete()
    name = "list.csv" if file_format == CSV else "list.xlsx"
    preview = UNSUBSCRIBES.preview(client, SimpleUploadedFile(name, response.content), file_format)
    UNSUBSCRIBES.confirm(client, confirm_data(preview))

    assert UNSUBSCRIBES.imported() == ["-ivan@example.com", "=cmd@example.com"]
