"""Checklist 20: the limits come from `.env` (or the environment) when a process starts; DEBUG is
off unless asked for and parsed strictly (issue 8)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from config import envvars
from mailer.checks import check_time_zone

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


# --- strict settings (issue 10, finding 12) ---------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "refusal"),
    [
        ("MAILER_WORKING_HOURS_ENABLED", "ture", "MAILER_WORKING_HOURS_ENABLED must be True or False"),
        ("MAILER_RATE_PER_HOUR", "1O0", "MAILER_RATE_PER_HOUR must be a whole number, not '1O0'."),
        ("MAILER_SMTP_TIMEOUT", "15s", "MAILER_SMTP_TIMEOUT must be a number (seconds, e.g. 15 or 2.5), not '15s'."),
    ],
)
def test_a_typo_in_a_mailer_setting_stops_the_process_naming_the_variable(variable, value, refusal):
    result = run_settings(PRINT_DEBUG, DEBUG="True", **{variable: value})
    assert result.returncode != 0
    assert refusal in result.stderr


@pytest.mark.parametrize(
    ("parse", "raw", "value"),
    [
        (envvars.strict_int, "100", 100),
        (envvars.strict_int, " 10_000 ", 10000),
        (envvars.strict_int, "-1", -1),  # parsed; the range is a system check
        (envvars.strict_float, "2.5", 2.5),
        (envvars.strict_float, "15", 15.0),
        (envvars.strict_bool, "Off", False),
    ],
)
def test_strict_parsers_read_what_they_should(monkeypatch, parse, raw, value):
    monkeypatch.setenv("SOME_SETTING", raw)
    assert parse("SOME_SETTING", default=7) == value


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (envvars.strict_int, "12.5"),
        (envvars.strict_int, "ten"),
        (envvars.strict_int, "0x10"),
        (envvars.strict_float, "nan"),
        (envvars.strict_float, "inf"),
        (envvars.strict_float, "1,5"),
        (envvars.strict_bool, "да"),
    ],
)
def test_strict_parsers_refuse_the_rest_naming_the_variable(monkeypatch, parse, raw):
    monkeypatch.setenv("SOME_SETTING", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_SETTING must be .*not '{raw}'"):
        parse("SOME_SETTING", default=7)


def test_an_unset_or_empty_variable_takes_the_default(monkeypatch):
    monkeypatch.setenv("SOME_SETTING", "  ")
    assert envvars.strict_int("SOME_SETTING", default=7) == 7
    monkeypatch.delenv("SOME_SETTING")
    assert envvars.strict_float("SOME_SETTING", default=1.5) == 1.5


def errors(settings_fixture, **values):
    for name, value in values.items():
        setattr(settings_fixture, name, value)
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("mailer.")]


@pytest.mark.parametrize(("start", "end"), [(18, 9), (9, 9), (-1, 18), (9, 25)])
def test_working_hours_that_are_no_working_day_are_refused(settings, start, end):
    [(check_id, message)] = errors(settings, MAILER_WORKING_HOURS_START=start, MAILER_WORKING_HOURS_END=end)
    assert check_id == "mailer.E002"
    assert f"MAILER_WORKING_HOURS_START={start} and MAILER_WORKING_HOURS_END={end}" in message


def test_an_unknown_time_zone_is_refused(settings):
    with override_settings(TIME_ZONE="Europe/Moskva"):
        found = [(m.id, m.msg) for m in check_time_zone(None)]
    assert found == [
        (
            "mailer.E003",
            "TIME_ZONE='Europe/Moskva' is not a time zone: working hours and the hourly limit are counted in it.",
        )
    ]


def test_rates_below_one_and_a_bad_unsubscribe_rate_are_refused(settings):
    found = errors(
        settings,
        MAILER_RATE_PER_HOUR=0,
        MAILER_CIRCUIT_BREAKER_THRESHOLD=-1,
        MAILER_SMTP_TIMEOUT=0.0,
        MAILER_UNSUBSCRIBE_RATE_LIMIT="30 per minute",
    )
    assert found == [
        ("mailer.E004", "MAILER_RATE_PER_HOUR=0 must be at least 1."),
        ("mailer.E004", "MAILER_CIRCUIT_BREAKER_THRESHOLD=-1 must be at least 1."),
        ("mailer.E004", "MAILER_SMTP_TIMEOUT=0.0 must be more than 0 seconds."),
        ("mailer.E004", "MAILER_UNSUBSCRIBE_RATE_LIMIT='30 per minute' is not a rate."),
    ]


def test_the_lock_grace_must_fit_the_ttl_and_outlast_a_slow_message(settings):
    assert [i for i, _ in errors(settings, MAILER_SENDER_LOCK_GRACE=600)] == ["mailer.E005"]
    assert [i for i, _ in errors(settings, MAILER_SENDER_LOCK_GRACE=20)] == ["mailer.W002"]
    assert errors(settings, MAILER_SENDER_LOCK_GRACE=120) == []
