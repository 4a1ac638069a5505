"""Benchmark: the admin pages at a million rows (issue 11, part 2).

Seeds a scratch PostgreSQL database in the issue's shape — 1 M recipients in 200 campaigns
(one of 100 000), 0.93 M SendLog rows, 20 000 unsubscribes, 50 000 notifications, 5 000
companies with 15 000 contacts, a superuser and a manager owning some campaigns — with plain
SQL (INSERT … SELECT generate_series, not the ORM), then requests each page through Django's
test client, as the superuser and as the manager: one warm-up, then the median of --runs,
with the number of SQL queries. Prints a table; the target is ≤ 300 ms median per page.
Beside the wall time it prints the process's CPU time: on a machine shared with other work the
wall time waits for a core, the CPU time does not.

    .venv/bin/python bench/admin_scale.py            # seed (≈ 3 min here), measure, drop
    .venv/bin/python bench/admin_scale.py --keep     # keep the seeded database afterwards
    .venv/bin/python bench/admin_scale.py --reuse    # measure a database seeded before (kept)

The scratch database is DATABASE_URL's name plus `_scale` (or --db); migrations are applied
on every run, so a reused database gets the newest indexes. DEBUG is off, as in production.
"""

import argparse
import io
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPIENTS = 1_000_000
BIG = 100_000  # the recipients of campaign 1
CAMPAIGNS = 200
UNSUBSCRIBES = 20_000
NOTIFICATIONS = 50_000
COMPANIES = 5_000
CONTACTS = 15_000
TARGET_MS = 300


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="the scratch database (default: DATABASE_URL's name + _scale)")
    parser.add_argument("--reuse", action="store_true", help="measure an already seeded database; keep it")
    parser.add_argument("--keep", action="store_true", help="keep the database after measuring")
    parser.add_argument("--runs", type=int, default=5, help="measured requests per page (median)")
    return parser.parse_args()


def scratch_url(name):
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_mailer"))
    name = name or base.path.lstrip("/") + "_scale"
    return urlunsplit(base._replace(path="/" + name)), urlunsplit(base._replace(path="/postgres")), name


def admin_sql(maintenance_url, sql):
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql)


def database_exists(maintenance_url, name):
    import psycopg

    with psycopg.connect(maintenance_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


# --- seeding -----------------------------------------------------------------------------------

SEED_SQL = [
    # 200 campaigns: campaign 1 holds 100 000 recipients and is being sent; every tenth
    # belongs to the manager (campaign 1 too); five wait in line, two are paused, the rest sent.
    f"""
    INSERT INTO mailer_campaign (name, subject, body_html, body_text, created_by_id, status, created_at, updated_at)
    SELECT 'Рассылка ' || g, 'Тема ' || g, '<p>Здравствуйте, {{{{ name }}}}!</p>', '',
           CASE WHEN g % 10 = 1 THEN %(manager)s ELSE %(superuser)s END,
           CASE WHEN g = 1 THEN 'sending' WHEN g <= 6 THEN 'ready' WHEN g <= 8 THEN 'paused'
                WHEN g <= 12 THEN 'draft' ELSE 'sent' END,
           now() - (g || ' hours')::interval, now()
    FROM generate_series(1, {CAMPAIGNS}) g
    """,
    """
    INSERT INTO mailer_campaignqueue (campaign_id, status, priority, queued_at, started_at, heartbeat_at,
        completed_at, defer_reason, deferred_until, consecutive_transient_errors, pause_reason, pause_detail)
    SELECT id, CASE status WHEN 'sending' THEN 'processing' WHEN 'ready' THEN 'pending'
                           WHEN 'paused' THEN 'paused' ELSE 'completed' END,
           0, created_at, created_at, now(), CASE WHEN status = 'sent' THEN now() END,
           CASE WHEN status = 'ready' THEN 'rate_per_hour' ELSE '' END,
           CASE WHEN status = 'ready' THEN now() + interval '1 hour' END, 0, '', ''
    FROM mailer_campaign WHERE status <> 'draft'
    """,
    # An address appears in about three campaigns; 90 % sent, 3 % failed, 2 % unsubscribed.
    f"""
    INSERT INTO mailer_campaignrecipient (campaign_id, email, name, variables, status, attempts, error_kind,
        last_error, sent_at, smtp_message_id, created_at)
    SELECT CASE WHEN g <= {BIG} THEN c.first ELSE c.first + 1 + g % {CAMPAIGNS - 1} END,
           'client' || (g % 300000) || '@firm' || (g % 997) || '.ru', 'Клиент ' || g, '{{}}',
           CASE WHEN g % 100 < 90 THEN 'sent' WHEN g % 100 < 93 THEN 'failed'
                WHEN g % 100 < 95 THEN 'unsubscribed' ELSE 'pending' END,
           CASE WHEN g % 100 < 93 THEN 1 ELSE 0 END,
           CASE WHEN g % 100 BETWEEN 90 AND 92 THEN 'permanent' ELSE '' END,
           CASE WHEN g % 100 BETWEEN 90 AND 92 THEN '550 5.1.1 User unknown' ELSE '' END,
           CASE WHEN g % 100 < 90 THEN now() - (g % 129600 || ' minutes')::interval END,
           CASE WHEN g % 100 < 90 THEN '<' || g || '.bench@crm.example>' ELSE '' END,
           now() - (g % 129600 || ' minutes')::interval
    FROM generate_series(1, {RECIPIENTS}) g, (SELECT min(id) AS first FROM mailer_campaign) c
    """,
    """
    INSERT INTO mailer_sendlog (campaign_id, recipient_id, kind, email, status, provider, smtp_message_id, error,
        took_ms, created_at)
    SELECT campaign_id, id, 'campaign', email, status, 'connect.smtp.bz', smtp_message_id, last_error, 40,
           coalesce(sent_at, created_at)
    FROM mailer_campaignrecipient WHERE status IN ('sent', 'failed')
    """,
    f"""
    INSERT INTO mailer_unsubscribe (email, source, campaign_id, created_at)
    SELECT DISTINCT ON (email) email, 'link', campaign_id, created_at
    FROM mailer_campaignrecipient WHERE status = 'unsubscribed' ORDER BY email LIMIT {UNSUBSCRIBES}
    """,
    f"""
    INSERT INTO backoffice_notification (user_id, kind, title, text, link, dedupe_key, read_at, created_at)
    SELECT CASE WHEN g % 5 < 3 THEN %(manager)s ELSE %(superuser)s END, 'deferred', 'Кампания отложена ' || g,
           'Достигнут лимит писем в час.', '', '', CASE WHEN g % 10 <> 0 THEN now() END,
           now() - (g || ' minutes')::interval
    FROM generate_series(1, {NOTIFICATIONS}) g
    """,
    f"""
    INSERT INTO backoffice_company (name, inn, email, phone, city, industry, manager_id, created_at)
    SELECT 'ООО «Компания ' || g || '»', lpad(g::text, 10, '7'), 'office@company' || g || '.ru', '',
           (ARRAY['Москва', 'Казань', 'Пермь', 'Тверь'])[1 + g % 4], 'Торговля',
           CASE WHEN g % 2 = 0 THEN %(manager)s END, now()
    FROM generate_series(1, {COMPANIES}) g
    """,
    f"""
    INSERT INTO backoffice_contact (company_id, full_name, position, email, phone)
    SELECT c.first + g % {COMPANIES}, 'Контакт ' || g, 'Менеджер', 'person' || g || '@company.ru', ''
    FROM generate_series(1, {CONTACTS}) g, (SELECT min(id) AS first FROM backoffice_company) c
    """,
]


def seed():
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from backoffice.permissions import MANAGER_GROUP

    superuser = User.objects.create_superuser("bench_boss", "boss@crm.example", "pass")
    manager = User.objects.create_user("bench_manager", "manager@crm.example", "pass", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER_GROUP))
    ids = {"manager": manager.pk, "superuser": superuser.pk}
    with connection.cursor() as cursor:
        for sql in SEED_SQL:
            started = time.perf_counter()
            for role, user_id in ids.items():  # ids, not parameters: the SQL has its own `%`
                sql = sql.replace(f"%({role})s", str(user_id))
            cursor.execute(sql)
            print(f"  {cursor.rowcount:>9} rows  {time.perf_counter() - started:6.1f} s  {sql.split()[2]}")
    connection.close()


def vacuum(db_url):
    """As autovacuum would leave a table that has been there a while: statistics and the
    visibility map (index-only scans) in place."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- measuring ---------------------------------------------------------------------------------


def pages():
    """(page, path or callable); each is requested as both users."""
    from mailer.models import Campaign, CampaignRecipient, SendLog

    big = Campaign.objects.order_by("id").first()
    address = CampaignRecipient.objects.filter(campaign=big).order_by("id").values_list("email", flat=True)[500]
    logged = SendLog.objects.filter(campaign=big).order_by("id").values_list("email", flat=True)[700]
    local_part = address.split("@")[0]
    return [
        ("campaigns list", "/admin/mailer/campaign/"),
        (f"campaign page, {BIG:,} recipients".replace(",", " "), f"/admin/mailer/campaign/{big.pk}/change/"),
        ("recipients list", "/admin/mailer/campaignrecipient/"),
        ("recipients search, whole e-mail", f"/admin/mailer/campaignrecipient/?q={address}"),
        ("recipients search, part of e-mail", f"/admin/mailer/campaignrecipient/?q={local_part}"),
        ("SendLog list", "/admin/mailer/sendlog/"),
        ("SendLog search, whole e-mail", f"/admin/mailer/sendlog/?q={logged}"),
        ("queue list", "/admin/mailer/campaignqueue/"),
        ("unsubscribes list", "/admin/mailer/unsubscribe/"),
        ("notifications list", "/admin/backoffice/notification/"),
        ("companies list", "/admin/backoffice/company/"),
        ("contacts list", "/admin/backoffice/contact/"),
        ("dashboard", "/admin/"),
        (f"poll ?campaign= ({BIG:,})".replace(",", " "), f"/admin/mailer/poll/?campaign={big.pk}"),
        ("mailer_status --json", mailer_status),
    ]


def mailer_status(client):
    from django.core.management import call_command

    call_command("mailer_status", "--json", stdout=io.StringIO())


class Refused(Exception):
    pass


def timed(client, target):
    """Wall time, this process's CPU time (Django and the templates, not PostgreSQL) and the
    number of queries of one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started, cpu = time.perf_counter(), time.process_time()
        if callable(target):
            target(client)
        else:
            response = client.get(target, secure=True)
            if response.status_code != 200:
                raise Refused(f"HTTP {response.status_code}")
        took, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    return took, cpu, len(queries)


def measure(client, target, runs):
    try:
        timed(client, target)  # warm-up
        results = [timed(client, target) for _ in range(runs)]
    except Refused as refusal:
        return str(refusal)
    wall, cpu, queries = zip(*results, strict=True)
    return statistics.median(wall), statistics.median(cpu), max(queries)


def cell(result):
    if isinstance(result, str):
        return f"{result:>25}"
    ms, cpu, queries = result
    mark = "" if ms <= TARGET_MS else "!"
    return f"{ms:6.0f}{mark:1} ms {cpu:4.0f} cpu {queries:3d} q"


def report(runs):
    from django.contrib.auth.models import User
    from django.test import Client

    clients = {}
    for username in ("bench_boss", "bench_manager"):
        clients[username] = Client()
        clients[username].force_login(User.objects.get(username=username))
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"\nAdmin pages at scale: median of {runs} after a warm-up; target ≤ {TARGET_MS} ms (! over).")
    print(f"ms: wall time; cpu: this process's CPU ms (Django, templates); q: queries. Load average: {load}\n")
    print(f"{'page':<36} {'superuser':>25}   {'manager':>25}")
    print("-" * 90)
    for name, target in pages():
        as_boss = cell(measure(clients["bench_boss"], target, runs))
        as_manager = "—" if callable(target) else cell(measure(clients["bench_manager"], target, runs))
        print(f"{name:<36} {as_boss:>25}   {as_manager:>25}", flush=True)


def main():
    args = parse_args()
    db_url, maintenance_url, name = scratch_url(args.db)
    exists = database_exists(maintenance_url, name)
    if args.reuse and not exists:
        sys.exit(f"--reuse: database {name} does not exist; run without --reuse first")
    if not args.reuse:
        if exists:
            admin_sql(maintenance_url, f'DROP DATABASE "{name}"')
        admin_sql(maintenance_url, f'CREATE DATABASE "{name}"')

    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("MAILER_PUBLIC_BASE_URL", "https://testserver")
    import django

    django.setup()
    from django.core.management import call_command

    # Not setup_test_environment(): its template instrumentation (a copy of every context for
    # the test client) would add a third to a list page's time. ALLOWED_HOSTS admits the client.
    logging.disable(logging.INFO)  # the logins' log lines would interleave with the table
    call_command("migrate", verbosity=0)
    if not args.reuse:
        print(f"Seeding {name} …")
        started = time.perf_counter()
        seed()
        vacuum(db_url)
        print(f"  seeded and vacuumed in {time.perf_counter() - started:.0f} s")
    try:
        report(args.runs)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.reuse or args.keep):
            admin_sql(maintenance_url, f'DROP DATABASE "{name}"')


if __name__ == "__main__":
    main()
