"""The login door (issue 8, finding 7): django-axes locks a username and a client IP after
too many failed logins, says so in Russian with the minutes left, records it for
superusers, works with Redis down, and a plain login lands on the dashboard."""

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Group, User
from django.test import Client

from backoffice.login_throttle import lockout_message, minutes_left
from backoffice.permissions import MANAGER_GROUP
from tests.conftest import msk

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
ATTACKER_IP, OFFICE_IP = "203.0.113.66", "198.51.100.10"
LOCKED = "Слишком много неудачных попыток входа"


@pytest.fixture
def boss(db):
    return User.objects.create_superuser("boss", "boss@crm.example", "right-pass")


@pytest.fixture
def manager(db):
    user = User.objects.create_user("manager_a", "a@crm.example", "manager-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER_GROUP))
    return user


def log_in(username, password, *, ip=ATTACKER_IP, client=None):
    """The admin's login form as a browser posts it: no `next`."""
    client = client or Client()
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return client, response


def logged_in(client):
    return client.get("/admin/").status_code == 200


def fail(username, times, *, ip=ATTACKER_IP):
    return [log_in(username, "wrong", ip=ip)[1].status_code for _ in range(times)]


def test_sixty_wrong_passwords_then_the_right_one_is_refused(boss, clock):
    codes = fail("boss", 60)

    assert codes[:9] == [200] * 9  # the form's «wrong password» while the door is open
    assert set(codes[9:]) == {429}  # the 10th failure locks: LOGIN_FAILURE_LIMIT
    client, response = log_in("boss", "right-pass")
    assert response.status_code == 429
    page = response.content.decode()
    assert lockout_message(15) in page  # nothing counted while locked: the full window is left
    assert 'name="password"' in page  # the login page, not a bare error
    assert not logged_in(client)


@pytest.mark.parametrize(
    "who, ip, allowed",
    [
        ("another user, another IP", OFFICE_IP, True),
        ("the locked username from another IP", OFFICE_IP, False),  # per username
        ("another user from the locked IP", ATTACKER_IP, False),  # per IP
    ],
)
def test_the_lock_holds_per_username_and_per_ip(boss, manager, clock, who, ip, allowed):
    fail("boss", 10)

    username, password = ("boss", "right-pass") if "locked username" in who else ("manager_a", "manager-pass")
    client, response = log_in(username, password, ip=ip)

    assert logged_in(client) is allowed
    assert response.status_code == (302 if allowed else 429)


def test_many_usernames_from_one_ip_lock_that_ip(boss, clock):
    for number in range(10):
        fail(f"guess{number}", 1)
    _, response = log_in("boss", "right-pass")
    assert response.status_code == 429
    _, elsewhere = log_in("boss", "right-pass", ip=OFFICE_IP)
    assert elsewhere.status_code == 302


def test_the_lock_lifts_after_the_window(boss, clock):
    fail("boss", 10)

    clock.move_to(msk(2026, 11, 30, 10, 14, 30))
    _, response = log_in("boss", "right-pass")
    assert response.status_code == 429 and lockout_message(1) in response.content.decode()

    clock.move_to(msk(2026, 11, 30, 10, 15, 1))
    client, response = log_in("boss", "right-pass")
    assert response.status_code == 302 and logged_in(client)


def test_the_window_and_limit_come_from_settings(boss, clock, settings):
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_LOCKOUT_MINUTES = 3, 60
    assert fail("boss", 3) == [200, 200, 429]
    _, response = log_in("boss", "right-pass")
    assert lockout_message(60) in response.content.decode()


def test_failures_and_the_lockout_are_recorded_for_superusers_only(boss, manager, clock, caplog):
    with caplog.at_level(logging.WARNING, logger="backoffice"):
        fail("boss", 11)

    failures = AccessFailureLog.objects.filter(username="boss", ip_address=ATTACKER_IP)
    assert failures.count() == 10 and failures.filter(locked_out=True).count() == 1
    assert AccessAttempt.objects.get(username="boss").failures_since_start == 10
    refusals = [r for r in caplog.records if r.getMessage() == "Login refused: too many failed attempts"]
    assert [(r.username, r.client_ip) for r in refusals] == [("boss", ATTACKER_IP)] * 2  # the 10th and 11th

    as_boss = Client()
    as_boss.force_login(boss)
    screen = as_boss.get("/admin/axes/accessfailurelog/")
    assert screen.status_code == 200 and "Вход закрыт" in screen.content.decode()
    assert "Попытки входа" in as_boss.get("/admin/").content.decode()
    as_manager = Client()
    as_manager.force_login(manager)
    assert as_manager.get("/admin/axes/accessfailurelog/").status_code == 403
    assert as_manager.get("/admin/axes/accessattempt/").status_code == 403
    assert "Попытки входа" not in as_manager.get("/admin/").content.decode()


def test_a_superuser_lifts_a_lock_by_deleting_the_attempt(boss, manager, clock):
    fail("manager_a", 10)
    as_boss = Client()
    as_boss.force_login(boss)
    attempt = AccessAttempt.objects.get(username="manager_a")
    as_boss.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    client, response = log_in("manager_a", "manager-pass", ip=OFFICE_IP)
    assert response.status_code == 302 and logged_in(client)


def test_with_redis_down_the_door_still_locks_and_opens(boss, manager, clock, redis_down):
    assert fail("boss", 10)[-1] == 429  # the counts live in PostgreSQL, not in Redis
    client, response = log_in("manager_a", "manager-pass", ip=OFFICE_IP)
    assert response.status_code == 302 and logged_in(client)


def test_behind_the_proxy_the_client_ip_is_the_one_it_names(boss, clock, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    for _ in range(10):  # all through the proxy at 10.0.0.2, from one attacker
        Client().post(
            LOGIN, {"username": "nobody", "password": "x"}, REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=ATTACKER_IP
        )
    office = Client()
    response = office.post(
        LOGIN, {"username": "boss", "password": "right-pass"}, REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=OFFICE_IP
    )
    assert response.status_code == 302  # the office is not the attacker, though both came via the proxy


def test_a_login_without_next_lands_on_the_dashboard(boss):
    _, response = log_in("boss", "right-pass")
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize("seconds, minutes", [(1, 1), (60, 1), (61, 2), (15 * 60, 15)])
def test_minutes_left_round_up(seconds, minutes):
    now = msk(2026, 11, 30, 10, 0)
    assert minutes_left(now + timedelta(seconds=seconds), now=now) == minutes


def test_an_admin_session_ends_after_a_working_day(boss, clock, settings):
    assert settings.SESSION_COOKIE_AGE == settings.ADMIN_SESSION_HOURS * 3600 == 10 * 3600
    client, _ = log_in("boss", "right-pass")  # at 10:00

    clock.move_to(msk(2026, 11, 30, 19, 59))
    assert logged_in(client)
    clock.move_to(msk(2026, 11, 30, 20, 0, 1))
    assert not logged_in(client)  # not Django's default two weeks
