"""The back-office app is a leaf: it imports nothing of the mailer (nor of the dev tools), so
the CRM stands on its own and the dependency points one way, mailer → backoffice."""

import ast
from pathlib import Path

from django.conf import settings

BACKOFFICE = Path(settings.BASE_DIR) / "backoffice"
FORBIDDEN = ("mailer", "devtools")


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_backoffice_imports_nothing_from_the_mailer():
    modules = sorted(BACKOFFICE.rglob("*.py"))
    assert len(modules) > 5  # the walk found the app
    offending = [
        f"{path.relative_to(BACKOFFICE.parent)}: {module}"
        for path in modules
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert offending == []
