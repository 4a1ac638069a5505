"""What `make run` (manage.py runproduct) sets up before it starts the processes.

Each step is idempotent, so a second run reuses the data of the first one. The module is
imported before Django's settings load (manage.py calls `set_demo_environment` first), so
it imports models only inside the functions that use them.
"""

import secrets
import socket
from dataclasses import dataclass

from django.contrib.auth import get_user_model

ADMIN_USERNAME = "admin"

# The demo runs with DEBUG on whatever the shell or `.env` says: runserver serves the static
# files only then, and production's https redirect and secure cookies would lock a local
# browser out. With DEBUG on and no SECRET_KEY / MAILER_SECRETS_KEY set, the settings create
# random keys once under DATA_DIR (var/) and reuse them. DEVTOOLS installs this app, whose
# commands (runproduct, run_mail_catcher) the launcher and its children run.
DEMO_ENVIRONMENT = {"DEBUG": "True", "DEVTOOLS": "True"}

# What the demo relaxes, and why, when the mail goes to the catcher and cannot reach anyone.
# Working hours: a newcomer may try it at 20:00. The rate: so that test sends and repeated
# demo runs never hit the 100/hour gate. Anything set in the environment wins.
DEMO_RELAXATIONS = {
    "MAILER_WORKING_HOURS_ENABLED": ("false", "отправка в любое время, а не только {working_hours}"),
    "MAILER_RATE_PER_HOUR": ("1000", "1000 писем в час вместо 100"),
}


def set_demo_environment(environ):
    environ.update(DEMO_ENVIRONMENT)


@dataclass(frozen=True)
class Relaxation:
    name: str
    value: str
    why: str
    from_environment: bool  # the operator set it: we only report it


@dataclass(frozen=True)
class Admin:
    user: object
    password: str | None  # set only when the user was created just now


def ensure_admin():
    """The `admin` superuser with a random password, created once.

    Returns None when the database already has other superusers: we do not add one of ours.
    """
    User = get_user_model()
    existing = User.objects.filter(username=ADMIN_USERNAME).first()
    if existing:
        return Admin(existing, None)
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
    return Admin(user, password)


def point_account_at_catcher(*, host, port):
    """Sends all mail to the local catcher: plain SMTP, no login, enabled."""
    from mailer.models import GlobalMailAccount

    account = GlobalMailAccount.load()
    account.smtp_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    account.smtp_port = port
    account.use_tls = account.use_ssl = False
    account.smtp_username = account.smtp_password = ""
    account.is_enabled = True
    if not account.from_name:
        account.from_name = "Отдел продаж (демо)"
    account.save()
    return account


def demo_relaxations(environ):
    from mailer.engine.policy import working_hours_label  # after the settings, like the models

    hours = working_hours_label()
    return [
        Relaxation(name, environ.get(name, value), why.format(working_hours=hours), from_environment=name in environ)
        for name, (value, why) in DEMO_RELAXATIONS.items()
    ]


def daily_limit_line():
    """What the demo keeps: the manager's daily limit lives in the database, not in a setting."""
    from mailer.models import GlobalMailAccount

    limit = GlobalMailAccount.load().per_user_daily_limit
    what = f"{limit} писем в день" if limit else "без лимита"
    return f"дневной лимит менеджера: {what} (меняется в «Настройках почты», 0 — без лимита)."


def port_is_free(host, port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_listening(host, port):
    try:
        socket.create_connection(("127.0.0.1" if host in ("", "0.0.0.0") else host, port), timeout=0.5).close()
    except OSError:
        return False
    return True
