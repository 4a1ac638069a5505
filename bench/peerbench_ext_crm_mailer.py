"""Django side of peerbench_ext_crm_mailer.sh (run with the CRM project's python, cwd = the project).

enqueue          the mailer account pointed at the sink (PEERBENCH_SMTP_HOST/PORT), one
                 campaign whose templates are content.py's subject/text/html with the
                 subscriber number as the variable {{ n }} (the HTML's unsubscribe link
                 becomes the project's own {{ unsubscribe_url }}, so no HTML footer is
                 appended; the text part gets the project's text footer), N recipients added
                 with mailer.services.add_recipients and the campaign started with
                 mailer.services.campaign_start. Prints {"enqueue_s": ...} last.
flush-own-redis  empties the adapter's own Redis db (never 6379): counters, lock, throttles.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.environ["PEERBENCH_CONTENT_DIR"])
import content  # noqa: E402
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402


def templates():
    marker = "{{ n }}"
    html = content.html_body(marker).replace(
        'href="https://peerbench.example.com/unsubscribe"', 'href="{{ unsubscribe_url }}"'
    )
    assert "{{ unsubscribe_url }}" in html
    return content.subject(marker), content.text_body(marker), html


def enqueue():
    from django.contrib.auth.models import User

    from mailer import services
    from mailer.models import Campaign, GlobalMailAccount

    n = int(os.environ["PEERBENCH_N"])
    name, _, addr = content.SENDER.rpartition(" <")
    account = GlobalMailAccount.load()
    account.is_enabled = True
    account.smtp_host = os.environ["PEERBENCH_SMTP_HOST"]
    account.smtp_port = int(os.environ["PEERBENCH_SMTP_PORT"])
    account.smtp_username = account.smtp_password = ""
    account.use_tls = account.use_ssl = False
    account.from_email, account.from_name = addr.rstrip(">"), name
    account.per_user_daily_limit = 0  # "0 — без лимита"
    account.save()
    owner = User(username="peerbench", is_staff=True)
    owner.set_unusable_password()
    owner.save()
    subject, text, html = templates()

    t0 = time.perf_counter()
    campaign = Campaign.objects.create(
        name="Peerbench", subject=subject, body_text=text, body_html=html, created_by=owner
    )
    added = services.add_recipients(
        campaign=campaign,
        recipients=[
            services.NewRecipient(email=content.recipient(i), name=f"Подписчик №{i}", variables={"n": i})
            for i in range(n)
        ],
    )
    services.campaign_start(campaign=campaign, user=owner)
    enqueue_s = time.perf_counter() - t0
    if added.created != n:
        sys.exit(f"added {added.created} recipients, expected {n}: {added.summary()}")
    print(json.dumps({"enqueue_s": enqueue_s, "n": n, "campaign": campaign.pk}))


def flush_own_redis():
    url = settings.REDIS_URL
    if not url or ":6379" in url:
        sys.exit(f"refusing to flush {url!r}")
    from django.core.cache import cache

    cache.clear()  # FLUSHDB on the adapter's own db only


if __name__ == "__main__":
    {"enqueue": enqueue, "flush-own-redis": flush_own_redis}[sys.argv[1]]()
