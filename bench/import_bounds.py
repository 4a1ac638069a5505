"""Benchmark: what refusing a hostile import costs a web worker.

Starts gunicorn (one worker, one thread, DEBUG=False) on a fresh test database and posts each
file to the recipients' import page as a logged-in manager, like a browser would. For each it
prints the wall time of the request and the worker's peak RSS growth during it (Linux:
VmHWM after resetting it through /proc/<pid>/clear_refs), and checks the page's answer.

    .venv/bin/python bench/import_bounds.py
"""

import http.client
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_mailer_bench")
os.environ["SECRET_KEY"] = "bench-" + secrets.token_urlsafe(20)  # the server must read our session

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from backoffice.permissions import MANAGER_GROUP  # noqa: E402
from mailer.models import Campaign  # noqa: E402
from tests.mailer.admin.spreadsheets import (  # noqa: E402
    SHARED_STRINGS,
    SHEET_END,
    SHEET_START,
    shared_strings_xml,
    sheet_xml,
    workbook_with_parts,
    xlsx_bytes,
)

MB = 1024 * 1024
IMPORT_PATH = "/admin/mailer/campaignrecipient/import/"
XLSX, CSV = "0", "1"
CSRF = secrets.token_hex(16)  # a cookie and the form field carrying the same secret pass the check


# --- files -------------------------------------------------------------------------------------


def csv_50mb():
    line = b"client@example.com,\xd0\x9a\xd0\xbb\xd0\xb8\xd0\xb5\xd0\xbd\xd1\x82\n"
    return b"email,name\n" + line * (50 * MB // len(line))


def xlsx_sheet(row_xml, times):
    return workbook_with_parts({"xl/worksheets/sheet1.xml": sheet_xml(row_xml, times=times)})


def distinct_rows():
    """200 000 different addresses, packed as much as a real sheet (about 25 times)."""
    rows = (b'<row><c t="inlineStr"><is><t>c%d@example.com</t></is></c></row>' % i for i in range(200_000))
    return workbook_with_parts({"xl/worksheets/sheet1.xml": [SHEET_START, *rows, SHEET_END]})


def shared_strings_at_the_cap():
    """Distinct texts filling the unpacked limit, all read before the first row."""
    count = settings.MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES // 60
    texts = (b"<t>client%d@example.com %x</t>" % (i, i * 7919) for i in range(count))
    return workbook_with_parts(
        {
            SHARED_STRINGS: shared_strings_xml(texts),
            "xl/worksheets/sheet1.xml": sheet_xml(b'<row><c t="s"><v>1</v></c></row>', times=20_000),
        }
    )


def wide_rows_at_the_cap():
    """Rows as wide as the unpacked limit allows, one row more than the row limit: every row
    is parsed before the last one is refused. Numbers from a small set: packed ~10 times."""
    rows = settings.MAILER_MAX_CAMPAIGN_RECIPIENTS + 1
    per_row = int(settings.MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES * 0.95) // rows // len(b"<c><v>123456</v></c>")
    numbers = random.Random(8).choices(range(100_000, 100_400), k=rows * per_row)
    row = (
        b"<row>" + b"".join(b"<c><v>%d</v></c>" % n for n in numbers[r * per_row : (r + 1) * per_row]) + b"</row>"
        for r in range(rows)
    )
    return workbook_with_parts({"xl/worksheets/sheet1.xml": [SHEET_START, *row, SHEET_END]})


ROW = b'<row><c t="inlineStr"><is><t>a@example.com</t></is></c></row>'
CASES = [
    # name, file name, format, the file, what the page must say
    ("CSV, 50 MB", "big.csv", CSV, csv_50mb, "Файл слишком большой"),
    (
        "XLSX, 1 000 000 rows",
        "million.xlsx",
        XLSX,
        lambda: xlsx_sheet(b"<row><c><v>1</v></c></row>", 10**6),
        "сжат неправдоподобно сильно",
    ),
    ("XLSX zip bomb, 110 MB unpacked", "bomb.xlsx", XLSX, lambda: xlsx_sheet(ROW, 1_900_000), "распаковывается в"),
    ("XLSX, 200 000 rows, no dimension", "200k.xlsx", XLSX, distinct_rows, "строк с данными"),
    ("XLSX, shared strings at the cap", "strings.xlsx", XLSX, shared_strings_at_the_cap, "текстовых значений"),
    ("XLSX, wide rows at the cap", "wide.xlsx", XLSX, wide_rows_at_the_cap, "ячеек"),
    (
        "CSV, 1 000 rows (accepted)",
        "1k.csv",
        CSV,
        lambda: b"email,name\n" + b"".join(b"c%d@example.com,N%d\n" % (i, i) for i in range(1000)),
        "Подтвердить импорт",
    ),
]


# --- server --------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port, database_url, upload_dir):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False",
        "PORT": str(port),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "SECURE_COOKIES": "False",
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
        "GUNICORN_TIMEOUT": "900",
        "MAILER_IMPORT_UPLOAD_DIR": upload_dir,
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return server, worker_pid(server.pid)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def worker_pid(master):
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def request(port, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def multipart(fields, file_name, content):
    boundary = "bench" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="import_file"; filename="{file_name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_import(port, session, campaign, file_name, file_format, content):
    body, content_type = multipart(
        {"csrfmiddlewaretoken": CSRF, "resource": "0", "format": file_format, "campaign": campaign.pk},
        file_name,
        content,
    )
    headers = {"Content-Type": content_type, "Cookie": f"sessionid={session}; csrftoken={CSRF}"}
    return request(port, "POST", IMPORT_PATH, body, headers)


# --- run -----------------------------------------------------------------------------------------


def main():
    creation = connection.creation
    test_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    database_url = settings.DATABASES["default"]
    url = f"postgres://{database_url['USER']}@{database_url['HOST']}:{database_url['PORT']}/{test_db}"
    server = None
    try:
        manager = User.objects.create_user("bench", "bench@example.ru", "x", is_staff=True)
        manager.groups.add(Group.objects.get(name=MANAGER_GROUP))
        campaign = Campaign.objects.create(name="Бенчмарк", subject="s", body_html="<p>x</p>", created_by=manager)
        client = Client()
        client.force_login(manager)
        session = client.cookies["sessionid"].value
        with tempfile.TemporaryDirectory() as uploads:
            port = free_port()
            server, worker = start_gunicorn(port, url, uploads)
            warm = xlsx_bytes([["email"], ["a@example.com"]])
            post_import(port, session, campaign, "warm.xlsx", XLSX, warm)  # imports and caches done
            post_import(port, session, campaign, "warm.csv", CSV, b"email\na@example.com\n")
            print(
                f"gunicorn worker {worker}, 1 thread, DEBUG=False; limits: "
                f"{settings.MAILER_IMPORT_MAX_BYTES // MB} MB, {settings.MAILER_MAX_CAMPAIGN_RECIPIENTS} rows, "
                f"{settings.MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES // MB} MB unpacked, "
                f"ratio {settings.MAILER_IMPORT_MAX_COMPRESSION_RATIO}"
            )
            print(f"{'file':32} {'size':>10} {'time':>8} {'peak RSS growth':>16}  answer")
            ok = True
            for name, file_name, file_format, build, expected in CASES:
                content = build()
                before = status_kib(worker, "VmRSS")
                Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := current RSS
                started = time.perf_counter()
                status, page = post_import(port, session, campaign, file_name, file_format, content)
                took = time.perf_counter() - started
                growth = (status_kib(worker, "VmHWM") - before) / 1024
                answered = status == 200 and expected in page.decode()
                ok &= answered
                print(
                    f"{name:32} {len(content) / MB:8.2f}MB {took:7.2f}s {growth:13.1f} MiB  "
                    f"{'as expected' if answered else f'UNEXPECTED ({status})'}"
                )
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        creation.destroy_test_db(test_db, verbosity=0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
