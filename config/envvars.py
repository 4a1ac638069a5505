"""Strict parsing of environment variables: a typo must stop the process, not flip a switch.

django-environ's `env.bool` reads any unknown word ("ture", "Flase") as False; for DEBUG or
MAILER_WORKING_HOURS_ENABLED that would silently turn a safety gate off. Its `env.int` fails
on "1O0" with a bare ValueError that does not say which variable. Here every refusal names
the variable and the value, and the process does not start. Ranges (working hours, rates)
are Django system checks (mailer/checks.py).
"""

import math
import os

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def strict_bool(name: str, *, default: bool) -> bool:
    raw = _raw(name)
    if not raw:
        return default
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be True or False (also 1/0, yes/no, on/off), not {raw!r}.")


def strict_int(name: str, *, default: int) -> int:
    raw = _raw(name)
    if not raw:
        return default
    try:
        return int(raw.replace("_", ""), 10)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def strict_float(name: str, *, default: float) -> float:
    raw = _raw(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan" and "inf" parse, and are no timeouts either
        raise ImproperlyConfigured(f"{name} must be a number (seconds, e.g. 15 or 2.5), not {raw!r}.")
    return value
