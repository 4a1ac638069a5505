"""Checklist 20: the limits come from `.env` (or the environment) when a process starts."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRINT_LIMITS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.MAILER_MAX_CAMPAIGN_RECIPIENTS, s.MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR, s.MAILER_RATE_PER_HOUR)"
)


def limits_in_a_new_process(env_file=None, **variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILER_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **variables)
    if env_file:
        env["ENV_FILE"] = str(env_file)
    result = subprocess.run([sys.executable, "-c", PRINT_LIMITS], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.split()


def test_defaults():
    assert limits_in_a_new_process(ENV_FILE="/nonexistent") == ["10000", "10", "100"]


def test_dot_env_file_changes_the_limits(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("MAILER_MAX_CAMPAIGN_RECIPIENTS=500\nMAILER_THROTTLE_CAMPAIGN_START_PER_HOUR=3\n")
    assert limits_in_a_new_process(env_file) == ["500", "3", "100"]


def test_environment_wins_over_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("MAILER_RATE_PER_HOUR=50\n")
    assert limits_in_a_new_process(env_file, MAILER_RATE_PER_HOUR="70")[2] == "70"
