"""Helpers for the tests that run the product in child processes (make run, gunicorn, Huey
consumers, manage.py): their environment, a browser with cookies, and waiting."""

import http.cookiejar
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
# Variables that would change what a child process does (other tests' fixtures set some of
# them in this process, e.g. DJANGO_ALLOW_ASYNC_UNSAFE); each test sets its own.
_SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "DEVTOOLS",
    "ALLOWED_HOSTS",
    "DATA_DIR",
    "PORT",
    "TIME_ZONE",
)
_SCRUBBED_PREFIXES = ("DJANGO_", "MAILER_", "MAIL_CATCHER")


def child_env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def manage(*args, env, timeout=30):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def database_url():
    """The pytest database, for child processes that must see the test's rows."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


_PRODUCTION_SECRET_KEY = secrets.token_urlsafe(50)  # one for all: processes of a deployment share it


def production_env(**overrides):
    # The tests' own MAILER_SECRETS_KEY: the children read what the tests stored encrypted.
    return child_env(
        **{
            "DEBUG": "False",
            "SECRET_KEY": _PRODUCTION_SECRET_KEY,
            "ALLOWED_HOSTS": "crm.example.com",
            "MAILER_PUBLIC_BASE_URL": "https://crm.example.com",
            "REDIS_URL": settings.REDIS_URL,
            "MAILER_SECRETS_KEY": settings.MAILER_SECRETS_KEY,
            **overrides,
        }
    )


def descendants(pid):
    """Every process below `pid`, found through /proc (children of children included)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, frontier = set(), [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            found.add(child)
            frontier.append(child)
    return found


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Browser:
    """urllib with a cookie jar: logs in through the admin's form like a person would."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.url, response.read().decode()

    def post(self, path, data, *, csrf_token=None):
        """A form post; the CSRF token is the page's, or else the cookie's (Django takes both)."""
        token = csrf_token or next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **data}).encode()
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Referer": self.base_url + path})
        with self.opener.open(request, timeout=10) as response:
            return response.url, response.read().decode()

    def login(self, username, password):
        _, page = self.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        url, _ = self.post(
            "/admin/login/?next=/admin/",
            {"username": username, "password": password, "next": "/admin/"},
            csrf_token=token,
        )
        assert url == self.base_url + "/admin/", "login failed"


def wait_until(condition, *, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
