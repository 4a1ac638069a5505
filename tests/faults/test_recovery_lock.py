"""Crash recovery of the sender lock (finding 8 of issue 10): a stale lock is taken over after
the grace instead of its whole TTL, reconcile then finishes the interrupted campaign within
minutes, `mailer_status` shows a stale lock and `mailer_unlock` clears it."""

import subprocess
import sys
import time

import pytest
import redis as redis_py
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mailer import services
from mailer.engine import cache_view, limits, reconcile, sender
from mailer.models import CampaignQueue, CampaignRecipient
from tests.conftest import make_campaign, msk
from tests.processes import BASE_DIR, database_url, kill_pid, manage, production_env, wait_until

pytestmark = pytest.mark.faults
KEY = limits.SENDER_LOCK_KEY


@pytest.fixture
def raw():
    return redis_py.Redis.from_url(settings.REDIS_URL)


def silent_lock(raw, seconds, value=123):
    """A lock whose holder last beat `seconds` ago (its TTL is that much short)."""
    raw.set(KEY, value, ex=settings.MAILER_SENDER_LOCK_TTL - seconds)


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(("silent", "taken_over"), [(119, False), (120, True), (400, True)])
def test_a_lock_silent_for_the_grace_is_taken_over(clock, inbox, owner, raw, silent, taken_over):
    services.campaign_start(campaign=make_campaign(owner, recipients=2), user=owner)
    silent_lock(raw, silent)

    assert sender.run_sender_pass() is taken_over
    assert len(inbox.received) == (2 if taken_over else 0)


@pytest.mark.django_db
def test_a_lock_without_expiry_is_taken_over(clock, inbox, owner, raw):
    services.campaign_start(campaign=make_campaign(owner, recipients=1), user=owner)
    raw.set(KEY, 123)
    assert sender.run_sender_pass()
    assert len(inbox.received) == 1


@pytest.mark.django_db
def test_of_two_senders_taking_over_one_stale_lock_only_one_wins(raw):
    silent_lock(raw, 500)
    first, second = limits.SenderLock(), limits.SenderLock()
    assert (first.acquire(), second.acquire()) == (True, False)
    assert raw.get(KEY) == str(first.token).encode()


@pytest.mark.django_db
def test_a_holder_whose_lock_was_taken_over_stops_before_its_next_message(clock, inbox, owner, raw):
    services.campaign_start(campaign=make_campaign(owner, recipients=300), user=owner)
    lock = limits.SenderLock()
    assert lock.acquire()

    def taken_over_after_the_third(received):
        if len(inbox.received) == 3:
            raw.set(KEY, 42, ex=600)  # another sender judged it stale and took it
            lock.beaten_at = 0.0  # and the holder's next beat is due

    inbox.on_message = taken_over_after_the_third
    sender.process_queues(lock=lock)

    assert len(inbox.received) == 3


@pytest.mark.django_db
def test_status_shows_a_stale_lock_and_unlock_clears_it(clock, mail_account, raw):
    silent_lock(raw, 300, value=limits.SenderLock().token)
    text = run("mailer_status")
    assert "занята" in text and "держатель молчит 300 с" in text and "взята 30.11.2026 10:00:00" in text
    assert "УСТАРЕЛА: держатель не подаёт признаков жизни дольше 120 с" in text
    assert "manage.py mailer_unlock" in text

    assert "Блокировка отправителя снята" in run("mailer_unlock")
    assert raw.get(KEY) is None
    assert run("mailer_unlock") == "Блокировка отправителя свободна — снимать нечего.\n"


@pytest.mark.django_db
def test_unlock_leaves_a_fresh_lock_unless_forced(clock, mail_account, raw):
    silent_lock(raw, 5)
    with pytest.raises(CommandError, match="Блокировка свежая \\(держатель подавал сигнал 5 с назад\\)"):
        run("mailer_unlock")
    assert raw.get(KEY) is not None
    assert "снята" in run("mailer_unlock", "--force")
    assert raw.get(KEY) is None


@pytest.mark.django_db
def test_unlock_with_redis_down_says_so(mail_account, redis_down):
    with pytest.raises(CommandError, match="Кеш недоступен"):
        run("mailer_unlock")


def lock_state(**fields):
    return cache_view.LockState(entry=cache_view.CacheEntry(key=KEY, **fields.pop("entry", {})), **fields)


@pytest.mark.parametrize(
    ("state", "before"),
    [
        (lock_state(), msk(2026, 11, 30, 9, 58)),  # free: claims past the grace are orphans
        (lock_state(entry={"value": 1}, stale=True), msk(2026, 11, 30, 9, 58)),
        (lock_state(entry={"error": "down"}), msk(2026, 11, 30, 9, 58)),  # lockless senders
        # A live holder that took the lock at 09:59:30: only claims made before that.
        (lock_state(entry={"value": 1}, taken_at=msk(2026, 11, 30, 9, 59, 30)), msk(2026, 11, 30, 9, 58)),
        (lock_state(entry={"value": 1}, taken_at=msk(2026, 11, 30, 9, 50)), msk(2026, 11, 30, 9, 50)),
        (lock_state(entry={"value": 1}), msk(2026, 11, 30, 9, 30)),  # live, age unknown: half an hour
    ],
)
def test_which_claims_are_interrupted(state, before):
    assert reconcile.interrupted_before(now=msk(2026, 11, 30, 10, 0), lock=state) == before


# --- kill -9 of a real sender process ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_campaign_then_recovery_within_seconds(inbox, owner, settings, tmp_path):
    """A `mailer_send_now` killed mid-campaign: the next one takes the lock over after the
    grace (2 s here, 120 s by default) and reconcile finishes the campaign; nothing twice."""
    settings.MAILER_SENDER_LOCK_GRACE = 2
    campaign = make_campaign(owner, recipients=60)
    services.campaign_start(campaign=campaign, user=owner)
    arrivals = []
    inbox.on_message = lambda received: arrivals.append(time.monotonic()) or time.sleep(0.05)
    env = production_env(
        DATABASE_URL=database_url(),
        DATA_DIR=tmp_path,
        MAILER_WORKING_HOURS_ENABLED="false",
        MAILER_SENDER_LOCK_GRACE=2,
    )

    child = subprocess.Popen(
        [sys.executable, "manage.py", "mailer_send_now"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(lambda: len(inbox.received) >= 10, timeout=30, step=0.05)
    kill_pid(child.pid)
    child.wait()
    killed_at, sent_before = time.monotonic(), len(inbox.received)

    time.sleep(2)  # the grace: the dead holder's lock is stale now, not in 600 s
    second = manage("mailer_send_now", env=env)
    assert second.returncode == 0, second.stderr
    resumed_after = next(t for t in arrivals if t > killed_at) - killed_at  # Django's start-up included

    reconcile.reconcile_queues(now=timezone.now())  # the 5-minute task, run now
    assert manage("mailer_send_now", env=env).returncode == 0
    finished_after = time.monotonic() - killed_at

    statuses = list(campaign.recipients.values_list("status", flat=True))
    addresses = inbox.addresses()
    print(
        f"\nkill -9 after {sent_before} of 60 sent, grace 2 s: sending resumed after {resumed_after:.1f} s "
        "(Django's start-up included), "
        f"campaign final after {finished_after:.1f} s; received {len(addresses)}, "
        f"duplicates {len(addresses) - len(set(addresses))}"
    )
    assert len(addresses) == len(set(addresses))  # nobody twice
    assert resumed_after < 20  # a loaded CI machine; the figure is printed
    assert CampaignQueue.objects.get(campaign=campaign).status == "completed"
    assert statuses.count(CampaignRecipient.Status.SENDING) == 0
    assert statuses.count(CampaignRecipient.Status.SENT) >= 59
