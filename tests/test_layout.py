"""The code stays easy to live in: no module of the apps grows past 400 lines (split it by
job instead: see the README's «Architecture»)."""

from pathlib import Path

from django.conf import settings

APPS = ("config", "backoffice", "mailer", "devtools")
MAX_LINES = 400


def test_no_module_of_the_apps_is_over_400_lines():
    base = Path(settings.BASE_DIR)
    modules = [p for app in APPS for p in (base / app).rglob("*.py") if "migrations" not in p.parts]
    assert len(modules) > 50  # the walk found the apps
    too_long = {str(p.relative_to(base)): n for p in modules if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}
