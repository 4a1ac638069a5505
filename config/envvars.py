"""Strict parsing of environment variables: a typo must stop the process, not flip a switch.

django-environ's `env.bool` reads any unknown word ("ture", "Flase") as False; for DEBUG
that would silently pick production behaviour or, worse, the other way round.
"""

import os

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def strict_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be True or False (also 1/0, yes/no, on/off), not {raw!r}.")
