"""Test settings: the real services on localhost, as on CI (`make test` checks they run)."""

import os

# Each xdist worker gets its own Redis database so flushing one never disturbs another.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_mailer")
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{1 + int(_worker) % 15}")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
# The suite's settings load as they did when DEBUG defaulted to True (pytest-django still
# runs each test with DEBUG off); tests of production behaviour start child processes with
# DEBUG=False explicitly.
os.environ.setdefault("DEBUG", "True")
# The suite tests the dev tools too; tests/devtools/ proves production settings leave them out.
os.environ.setdefault("DEVTOOLS", "True")
os.environ.setdefault("MAILER_SECRETS_KEY", "dGVzdC1vbmx5LW1haWxlci1zZWNyZXRzLWtleS0zMmI=")  # a Fernet key, tests only

from config.settings import *  # noqa: E402,F403

HUEY["immediate"] = True  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = DATA_DIR / "test-media"  # noqa: F405
MAILER_IMPORT_UPLOAD_DIR = DATA_DIR / "test-import-uploads"  # noqa: F405
