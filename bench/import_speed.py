"""Benchmark: a 10 000-row import through the admin, against openpyxl's plain read.

Builds the files in memory (XLSX, a UTF-8 CSV with commas, and a CSV as Russian Excel saves it:
cp1251 with `;`), then, as a logged-in manager on a fresh test database, posts each to the
recipients' and the suppression list's import pages (the preview) and confirms it, as a
browser would. For every step it prints the time and its ratio to openpyxl's read of the same
XLSX, the SQL statements run, the peak RSS growth of this process (Linux: VmHWM after resetting
it through /proc/self/clear_refs), the page's size and the admin log rows written.

    .venv/bin/python bench/import_speed.py [--rows 10000] [--only recipients|unsubscribes]
"""

import argparse
import csv
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_mailer_bench")

import django  # noqa: E402

django.setup()

import openpyxl  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.admin.models import LogEntry  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from backoffice.permissions import MANAGER_GROUP  # noqa: E402
from mailer.models import Campaign, CampaignRecipient, Unsubscribe  # noqa: E402

XLSX, CSV = "0", "1"  # both screens offer the formats in this order
SCREENS = {
    "recipients": "/admin/mailer/campaignrecipient/",
    "unsubscribes": "/admin/mailer/unsubscribe/",
}
HEADERS = ["E-mail", "Имя", "Компания", "Город"]


# --- files ---------------------------------------------------------------------------------


def rows(count):
    """Realistic rows: every 200th address broken, every 100th repeated."""
    for i in range(count):
        email = f"client{i}@example.ru" if i % 200 else f"client{i}.example.ru"
        if i % 100 == 50:
            email = f"client{i - 1}@example.ru"
        yield [email, f"Клиент {i}", f"ООО «Ромашка {i % 500}»", "Казань"]


def xlsx_file(count):
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for row in rows(count):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_file(count, *, encoding="utf-8", delimiter=","):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(HEADERS)
    writer.writerows(rows(count))
    return text.getvalue().encode(encoding)


def openpyxl_read(content):
    """What reading the file costs at the least: openpyxl's read-only mode, values only."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    count = sum(1 for _ in book.active.iter_rows(values_only=True))
    book.close()
    return count


# --- measuring -----------------------------------------------------------------------------


def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Step:
    """Time, statements, peak RSS growth and admin log rows of one request."""

    def __enter__(self):
        self.rss = kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
        self.logs = LogEntry.objects.count()
        self.statements = 0
        self.counting = connection.execute_wrapper(self._count)
        self.counting.__enter__()
        self.started = time.perf_counter()
        return self

    def _count(self, execute, sql, params, many, context):
        self.statements += 1  # an executemany counts once: it is one round of the client
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self.took = time.perf_counter() - self.started
        self.counting.__exit__(*exc)
        self.growth = (kib("VmHWM") - self.rss) / 1024
        self.log_rows = LogEntry.objects.count() - self.logs


def median_time(function, *args, times=3):
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        function(*args)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


# --- the admin flow ------------------------------------------------------------------------


def import_through_admin(client, screen, campaign, name, file_format, content):
    """Preview, then confirm; returns the two Steps, or the page's answer if it refused."""
    url = SCREENS[screen]
    upload = io.BytesIO(content)
    upload.name = name
    data = {"format": file_format, "resource": "0", "import_file": upload, "campaign": campaign.pk}
    with Step() as preview:
        page = client.post(url + "import/", data)
    preview.page_kib = len(page.content) / 1024
    form = page.context.get("confirm_form") if page.context else None
    if form is None:
        errors = page.context["form"].errors.get("import_file") if page.context else None
        return preview, None, "refused: " + (errors[0][:70] if errors else "errors in rows, no «Подтвердить»")
    with Step() as confirm:
        done = client.post(url + "process_import/", {n: form.initial.get(n, "") for n in form.fields})
    confirm.page_kib = len(done.content) / 1024
    return preview, confirm, ""


def fresh_target(screen, manager):
    Unsubscribe.objects.all().delete()
    CampaignRecipient.objects.all().delete()
    return Campaign.objects.create(name="Бенчмарк", subject="s", body_html="<p>x</p>", created_by=manager)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--only", choices=sorted(SCREENS))
    args = parser.parse_args()

    files = [
        ("xlsx", f"{args.rows}.xlsx", XLSX, xlsx_file(args.rows)),
        ("csv utf-8 ,", f"{args.rows}.csv", CSV, csv_file(args.rows)),
        ("csv cp1251 ;", f"{args.rows}-excel.csv", CSV, csv_file(args.rows, encoding="cp1251", delimiter=";")),
    ]
    setup_test_environment()
    creation = connection.creation
    test_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        settings.MAILER_IMPORT_UPLOAD_DIR = Path(tempfile.mkdtemp(prefix="bench-import-"))
        manager = User.objects.create_user("bench", "bench@example.ru", "x", is_staff=True)
        manager.groups.add(Group.objects.get(name=MANAGER_GROUP))
        client = Client()
        client.force_login(manager)
        warm = fresh_target("recipients", manager)
        for screen in SCREENS:  # imports, templates and caches loaded before anything is timed
            import_through_admin(client, screen, warm, "warm.csv", CSV, b"email\na@example.com\n")

        # The machine is shared: openpyxl's read is timed again right before each import screen's
        # rows, so each ratio compares figures taken under the same load.
        print(f"{args.rows} rows; ratios against openpyxl's read-only read of the XLSX, timed before each screen")
        header = f"{'import':14} {'file':13} {'step':8} {'time':>8} {'× read':>7} {'statements':>10} "
        header += f"{'RSS growth':>11} {'page':>10} {'log rows':>8}  note"
        print(header)
        print("-" * len(header))
        for screen in [args.only] if args.only else SCREENS:
            baseline = median_time(openpyxl_read, files[0][3])
            print(f"{screen:14} {'(openpyxl)':13} {'read':8} {baseline:7.2f}s {1:6.1f}×")
            for label, name, file_format, content in files:
                campaign = fresh_target(screen, manager)
                preview, confirm, note = import_through_admin(client, screen, campaign, name, file_format, content)
                for step_name, step in (("preview", preview), ("confirm", confirm)):
                    if step is None:
                        continue
                    print(
                        f"{screen:14} {label:13} {step_name:8} {step.took:7.2f}s {step.took / baseline:6.1f}× "
                        f"{step.statements:10} {step.growth:8.1f} MB {step.page_kib:7.0f} KB {step.log_rows:8}  "
                        + (note if step is preview else "")
                    )
                model = CampaignRecipient if screen == "recipients" else Unsubscribe
                print(f"{'':14} {label:13} rows written: {model.objects.count()}")
    finally:
        connection.close()
        creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
