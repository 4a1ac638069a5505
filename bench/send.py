"""Benchmark: the sending pipeline against plain smtplib, same SMTP server, same run.

1 000 recipients in a started campaign (limits raised by settings), PostgreSQL and Redis as
in production, an aiosmtpd server in another process. Prints messages per second for both,
their ratio, database queries per message, peak RSS, and checks each address arrived once.

    make bench            (or: .venv/bin/python bench/send.py [--recipients N])
"""

import argparse
import json
import logging
import os
import resource
import smtplib
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

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.mail import EmailMultiAlternatives  # noqa: E402
from django.db import connection  # noqa: E402

from mailer import services  # noqa: E402
from mailer.engine import sender  # noqa: E402
from mailer.models import Campaign, CampaignRecipient, GlobalMailAccount  # noqa: E402


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port, outfile):
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(port), outfile],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready"
    return sink


def stop_sink(sink, outfile):
    sink.terminate()
    sink.wait(timeout=30)
    with open(outfile) as handle:
        return json.load(handle)


def prepare_campaign(count, port):
    GlobalMailAccount.objects.update_or_create(
        pk=1,
        defaults={
            "is_enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "use_tls": False,
            "from_email": "crm@example.ru",
            "from_name": "Отдел продаж",
            "per_user_daily_limit": 0,
        },
    )
    owner = User.objects.create_user("bench", "bench@example.ru", "x", is_staff=True)
    campaign = Campaign.objects.create(
        name="Бенчмарк",
        subject="Предложение для {{ company }}",
        body_html="<p>Здравствуйте, {{ name }}!</p><p>Наше предложение для {{ company }}.</p>",
        created_by=owner,
    )
    CampaignRecipient.objects.bulk_create(
        CampaignRecipient(
            campaign=campaign,
            email=f"pipeline{i}@example.com",
            name=f"Клиент {i}",
            variables={"company": f"ООО Компания {i}"},
        )
        for i in range(count)
    )
    services.campaign_start(campaign=campaign, user=owner)
    return campaign


def run_pipeline(campaign):
    """Times one sender pass; counts its statements with a cheap wrapper (no SQL capture)."""
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        sender.run_sender_pass()
        elapsed = time.perf_counter() - started
    return elapsed, len(statements)


def run_smtplib(count, port):
    messages = [
        EmailMultiAlternatives(
            subject=f"Предложение для ООО Компания {i}",
            body=f"Здравствуйте, Клиент {i}!",
            from_email="crm@example.ru",
            to=[f"plain{i}@example.com"],
        )
        .message()
        .as_bytes(linesep="\r\n")
        for i in range(count)
    ]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i, message in enumerate(messages):
            smtp.sendmail("crm@example.ru", [f"plain{i}@example.com"], message)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1000)
    count = parser.parse_args().recipients

    settings.MAILER_RATE_PER_HOUR = 10 * count
    settings.MAILER_WORKING_HOURS_ENABLED = False
    settings.DEBUG = False
    devnull = open(os.devnull, "w")  # noqa: SIM115  (for the whole run: records are formatted, not printed)
    logging.getLogger().handlers[0].setStream(devnull)

    creation = connection.creation
    test_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    cache.clear()
    port, outfile = free_port(), tempfile.mktemp(suffix=".json")
    sink = start_sink(port, outfile)
    try:
        campaign = prepare_campaign(count, port)
        pipeline_s, queries = run_pipeline(campaign)
        plain_s = run_smtplib(count, port)
        sent = campaign.recipients.filter(status="sent").count()
    finally:
        received = stop_sink(sink, outfile)
        creation.destroy_test_db(test_db, verbosity=0)

    pipeline_rate, plain_rate = count / pipeline_s, count / plain_s
    once = all(received.get(f"pipeline{i}@example.com") == 1 for i in range(count))
    print(f"database: {test_db} (PostgreSQL), cache: {settings.REDIS_URL}")
    print(f"recipients:            {count} (sent: {sent})")
    print(f"pipeline:              {pipeline_rate:8.0f} msg/s  ({pipeline_s:.2f} s)")
    print(f"plain smtplib:         {plain_rate:8.0f} msg/s  ({plain_s:.2f} s)")
    print(f"ratio:                 {pipeline_rate / plain_rate:8.2f}   (target >= 0.5)")
    print(f"queries per message:   {queries / count:8.2f}   ({queries} in all; target <= 1.5)")
    print(f"peak RSS:              {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MiB")
    print(f"each address once:     {'yes' if once else 'NO'}")
    return 0 if once and sent == count else 1


if __name__ == "__main__":
    sys.exit(main())
