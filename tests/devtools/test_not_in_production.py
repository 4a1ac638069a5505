"""Production never installs the dev tools: no app, no outbox screen, no `make run` commands."""

import json

import pytest

from tests.processes import manage, production_env

# What a process sees of the dev tools, printed as JSON by `manage.py shell`.
PROBE = """
import json
from django.apps import apps
from django.core.management import get_commands
from django.urls import NoReverseMatch, resolve, reverse

def mounted(name, path):
    # The admin's catch-all matches any path (and answers 404): ask for the view's own name.
    try:
        reverse(f"admin:{name}", args=[path.rstrip("/").rsplit("/", 1)[-1]] if name == "outbox_message" else [])
    except NoReverseMatch:
        return False
    return resolve(path).url_name == name

print(json.dumps({
    "installed": apps.is_installed("devtools"),
    "outbox": mounted("outbox", "/admin/outbox/"),
    "message": mounted("outbox_message", "/admin/outbox/20261130-100000-000000-0123abcd.eml/"),
    "commands": sorted(name for name in ("runproduct", "run_mail_catcher") if name in get_commands()),
}))
"""
# Never connected to: the probe touches no table.
PRODUCTION_DATABASE = "postgres://postgres@127.0.0.1:5432/crm_production_never_used"


def probe(**env):
    result = manage("shell", "-c", PROBE, env=production_env(DATABASE_URL=PRODUCTION_DATABASE, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_neither_install_nor_mount_the_dev_tools():
    assert probe() == {"installed": False, "outbox": False, "message": False, "commands": []}


@pytest.mark.parametrize("switch", [{"MAIL_CATCHER": "True"}, {"DEVTOOLS": "True"}])
def test_the_catcher_or_devtools_switch_brings_them_in(switch):
    # Staging with caught mail, and `make run` on PostgreSQL: the same probe sees everything.
    assert probe(**switch) == {
        "installed": True,
        "outbox": True,
        "message": True,
        "commands": ["run_mail_catcher", "runproduct"],
    }


def test_a_mistyped_devtools_switch_stops_the_process():
    result = manage("check", env=production_env(DATABASE_URL=PRODUCTION_DATABASE, DEVTOOLS="ture"))
    assert result.returncode != 0
    assert "DEVTOOLS must be True or False" in result.stderr
