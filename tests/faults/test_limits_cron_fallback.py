"""The documented fallback while Redis is down (finding 11 of issue 10): cron runs
`manage.py mailer_send_now`, which sends with the hourly limit counted in the database."""

import pytest

from mailer import services
from mailer.models import SendLog
from tests.conftest import free_port, make_campaign
from tests.processes import database_url, manage, production_env

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_send_now_from_cron_keeps_sending_with_redis_down_and_keeps_the_limit(inbox, owner, tmp_path):
    campaign = make_campaign(owner, recipients=8)
    services.campaign_start(campaign=campaign, user=owner)  # while Redis was up
    env = production_env(
        DATABASE_URL=database_url(),
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens: Redis is down
        DATA_DIR=tmp_path,
        MAILER_WORKING_HOURS_ENABLED="false",
        MAILER_RATE_PER_HOUR=5,
    )

    first = manage("mailer_send_now", env=env, timeout=60)
    second = manage("mailer_send_now", env=env, timeout=60)  # the next cron minute

    print(f"\nRedis down, limit 5, cron passes: {len(inbox.received)} sent of 8")
    assert first.returncode == 0, first.stderr
    assert "отправлено 5, ошибок 0" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "отправлено 0, ошибок 0" in second.stdout
    assert "Достигнут лимит писем в час" in second.stdout
    assert len(inbox.received) == 5 == SendLog.objects.filter(status="sent").count()
    assert "Traceback" not in first.stderr + second.stderr
