"""Checklist 20: the limits come from `.env` (or the environment) when a process starts; DEBUG is
off unless asked for and parsed strictly (issue 8)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    result = subprocess.run(
        [sys.executable, "-c", PRINT_LIMITS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
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


# --- safe defaults (issue 8, finding 10) ----------------------------------------------------

PRINT_DEBUG = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG)"


def run_settings(code, **variables):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAILER_", "DJANGO_")) and k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", ENV_FILE="/nonexistent", **variables)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_debug_is_off_unless_asked_for():
    result = run_settings(
        PRINT_DEBUG, SECRET_KEY="k" * 50, ALLOWED_HOSTS="crm.example.com", MAILER_SECRETS_KEY="x" * 43 + "="
    )
    assert result.stdout.split() == ["False"], result.stderr


def test_without_debug_or_a_secret_key_the_process_refuses_to_start():
    result = run_settings(PRINT_DEBUG)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


@pytest.mark.parametrize("word, parsed", [("True", "True"), ("on", "True"), ("0", "False"), ("no", "False")])
def test_debug_accepts_the_usual_words(word, parsed, tmp_path):
    result = run_settings(
        PRINT_DEBUG,
        DEBUG=word,
        DATA_DIR=str(tmp_path),
        SECRET_KEY="k" * 50,
        ALLOWED_HOSTS="crm.example.com",
        MAILER_SECRETS_KEY="x" * 43 + "=",
    )
    assert result.stdout.split() == [parsed], result.stderr


def test_a_misspelt_debug_stops_the_process_instead_of_guessing():
    result = run_settings(PRINT_DEBUG, DEBUG="ture", SECRET_KEY="k" * 50)
    assert result.returncode != 0
    assert "DEBUG must be True or False (also 1/0, yes/no, on/off), not 'ture'." in result.stderr
