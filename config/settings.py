"""Settings, read from the environment and an optional `.env` file.

With nothing set the product runs embedded: SQLite, the database cache and SqliteHuey.
`DATABASE_URL` and `REDIS_URL` switch it to PostgreSQL and Redis (production, CI).
"""

from pathlib import Path

import environ

from config import admin_site, local_keys, logs
from config.envvars import strict_bool, strict_float, strict_int

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another file (a deployment's, or a test's); real environment variables win.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

# Off unless asked for, and parsed strictly: `make run` (manage.py runproduct) turns it on.
DEBUG = strict_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite files of the embedded mode live here

if not SECRET_KEY:
    if not DEBUG:
        raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # A local run: a random key of this data directory, never one from the repository.
    SECRET_KEY = local_keys.read_or_create(DATA_DIR / "secret_key", make=local_keys.django_secret_key)
if not DEBUG and not ALLOWED_HOSTS:
    raise environ.ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.inlines",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "django_ratelimit",
    "huey.contrib.djhuey",
    "backoffice",
    "mailer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", strict_int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded mode runs the web server, the Huey consumer and commands on one file: WAL
    # lets readers go on while one process writes, IMMEDIATE transactions queue writers
    # instead of failing with "database is locked", and the timeout is how long they queue.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL;", transaction_mode="IMMEDIATE", timeout=20
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis holds the mailer's counters, the sender lock and the throttles; without it the
# database cache does the same job for a single embedded process.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "config.cache.raw_key",
            # Fail fast during an outage: the sender must not hang on a dead Redis.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "crm_cache",
            "KEY_FUNCTION": "config.cache.raw_key",
        }
    }

HUEY_IMMEDIATE = strict_bool("HUEY_IMMEDIATE", default=False)
# An idle Huey worker backs off up to 10 s between polls by default, so "every 30 s" could be
# 40; one poll a second keeps the sender on time and costs one cheap query or command.
HUEY_CONSUMER = {"workers": 2, "worker_type": "thread", "max_delay": 1.0}
if REDIS_URL:
    HUEY = {
        # Patient while Redis is down (config.task_queue); SIGTERM stops after the message in flight.
        "huey_class": "mailer.engine.shutdown.RedisHuey",
        "name": "crm-mailer",
        "immediate": HUEY_IMMEDIATE,
        "connection": {"url": REDIS_URL},
        "consumer": HUEY_CONSUMER,
    }
else:
    HUEY = {
        "huey_class": "mailer.engine.shutdown.SqliteHuey",
        "name": "crm-mailer",
        "immediate": HUEY_IMMEDIATE,
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "consumer": HUEY_CONSUMER,
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # Russian for django-unfold's own strings
# One zone for the admin and the mailer's rules: working hours, "today", the hourly counter keys.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Campaign attachments: no MEDIA_URL, nothing serves this directory (mailer/attachments.py).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = strict_bool("SECURE_SSL_REDIRECT", default=True)
    # Off only for a staging box reached over plain http (no TLS proxy in front).
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = strict_bool("SECURE_COOKIES", default=True)
    # Health checks come over plain http from inside the container or the load balancer.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = strict_int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# No inline script anywhere: our own scripts are static files. What the policy must allow:
# - 'unsafe-eval': django-unfold ships the standard Alpine.js build, which evaluates every
#   x-data/@click expression with `new Function()`; without it the admin's tabs, dialogs and
#   menus stop working (unfold issues #1344, #2129). Injected *script* still cannot run; the
#   defence against injected *markup* is escaping (previews go escaped into a sandboxed iframe).
# - style 'unsafe-inline': unfold's templates carry style attributes and a <style> block, and
#   e-mails are styled inline; CSS cannot run code.
# - img https: and data: — the preview iframe (srcdoc) inherits this policy, and e-mails show
#   remote images; a sandboxed preview loading one tells its host only that someone looked.
from csp.constants import NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE  # noqa: E402

MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, UNSAFE_EVAL],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Login throttle (django-axes) --------------------------------------------------------
# django-axes rather than django-ratelimit around the login view: it counts failed logins
# only (not every POST), per username and per client IP, keeps every failure and lockout in
# the database for the superusers' audit screens, and its database handler needs no Redis,
# so a Redis outage neither opens the door nor locks staff out. The functions named here
# live in backoffice/login_throttle.py and read the LOGIN_* settings at call time.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as axes requires
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_REDIRECT_URL = "admin:index"  # unfold's login form posts no `next`: land on the dashboard
LOGIN_FAILURE_LIMIT = strict_int("LOGIN_FAILURE_LIMIT", default=10)  # failures per username, and per IP ...
LOGIN_LOCKOUT_MINUTES = strict_int("LOGIN_LOCKOUT_MINUTES", default=15)  # ... within this window lock it
AXES_FAILURE_LIMIT = "backoffice.login_throttle.failure_limit"
AXES_COOLOFF_TIME = "backoffice.login_throttle.cool_off"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one at the limit locks
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"  # behind the proxy: RATELIMIT_IP_META_KEY
AXES_LOCKOUT_CALLABLE = "backoffice.login_throttle.lockout_response"  # the login page, in Russian, 429
# Refused attempts do not extend the lockout, so «попробуйте через N мин.» is the truth.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failure, with the one that locked marked
AXES_ENABLE_ADMIN = False  # backoffice/admin.py shows the records in unfold, superusers only

# --- Secrets at rest and admin sessions -------------------------------------------------
# The SMTP password and the smtp.bz API key are stored encrypted (Fernet, mailer/stored_secrets.py)
# with this key: one or more comma-separated keys, the first encrypts, all decrypt (rotation).
MAILER_SECRETS_KEY = env.str("MAILER_SECRETS_KEY", default="")
if not MAILER_SECRETS_KEY:
    if not DEBUG:
        raise environ.ImproperlyConfigured("MAILER_SECRETS_KEY must be set when DEBUG is off.")
    MAILER_SECRETS_KEY = local_keys.read_or_create(DATA_DIR / "secrets_key", make=local_keys.fernet_key)
# A session ends a working day after login, not after Django's two weeks.
ADMIN_SESSION_HOURS = strict_int("ADMIN_SESSION_HOURS", default=10)
SESSION_COOKIE_AGE = ADMIN_SESSION_HOURS * 3600

# --- Dev tools (`make run`) -----------------------------------------------------------------
# An aiosmtpd server that keeps every message as a .eml file instead of delivering it; the
# admin lists them as «Исходящие (dev)». On by default only in the embedded mode (SQLite).
MAIL_CATCHER = strict_bool("MAIL_CATCHER", default=not env.str("DATABASE_URL", default=""))
MAIL_CATCHER_HOST = env.str("MAIL_CATCHER_HOST", default="127.0.0.1")
MAIL_CATCHER_PORT = strict_int("MAIL_CATCHER_PORT", default=1025)
MAIL_CATCHER_DIR = Path(env.str("MAIL_CATCHER_DIR", default=str(DATA_DIR / "outbox")))
# The `devtools` app (the catcher, its outbox screen, demo data, `manage.py runproduct`): on
# with the catcher, and for `make run` whatever the database; production never installs it.
DEVTOOLS = strict_bool("DEVTOOLS", default=MAIL_CATCHER)

if DEVTOOLS:
    INSTALLED_APPS += ["devtools"]

# --- Back-office (django-unfold): the sidebar, the dashboard, the dev tools' screens --------
UNFOLD = admin_site.unfold_settings(devtools=DEVTOOLS)

# --- Mailer -------------------------------------------------------------------------------
# Every number is read at call time through django.conf.settings, so tests and operators
# can change it without a restart of anything but the process that reads it.
MAILER_RATE_PER_HOUR = strict_int("MAILER_RATE_PER_HOUR", default=100)
MAILER_MAX_CAMPAIGN_RECIPIENTS = strict_int("MAILER_MAX_CAMPAIGN_RECIPIENTS", default=10000)
MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR = strict_int("MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR", default=10)
MAILER_THROTTLE_TEST_EMAIL_PER_HOUR = strict_int("MAILER_THROTTLE_TEST_EMAIL_PER_HOUR", default=5)
MAILER_CIRCUIT_BREAKER_THRESHOLD = strict_int("MAILER_CIRCUIT_BREAKER_THRESHOLD", default=10)
MAILER_STUCK_AFTER_MINUTES = strict_int("MAILER_STUCK_AFTER_MINUTES", default=30)
MAILER_WORKING_HOURS_ENABLED = strict_bool("MAILER_WORKING_HOURS_ENABLED", default=True)
MAILER_WORKING_HOURS_START = strict_int("MAILER_WORKING_HOURS_START", default=9)
MAILER_WORKING_HOURS_END = strict_int("MAILER_WORKING_HOURS_END", default=18)
MAILER_SMTP_TIMEOUT = strict_float("MAILER_SMTP_TIMEOUT", default=15.0)
MAILER_SMTP_BZ_API_URL = env.str("MAILER_SMTP_BZ_API_URL", default="https://api.smtp.bz/v1")
MAILER_SMTP_BZ_API_TIMEOUT = strict_float("MAILER_SMTP_BZ_API_TIMEOUT", default=10.0)
MAILER_PUBLIC_BASE_URL = env.str("MAILER_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
MAILER_UNSUBSCRIBE_MAILTO = env.str("MAILER_UNSUBSCRIBE_MAILTO", default="")
MAILER_SENDER_LOCK_TTL = strict_int("MAILER_SENDER_LOCK_TTL", default=600)
# A sender lock whose holder has not beaten (it beats every 10 s while sending) for this many
# seconds is stale — its process is gone — and the next pass takes it over; claims older than
# this without an outcome are interrupted. Longer than one message can take (2 × SMTP timeout).
MAILER_SENDER_LOCK_GRACE = strict_int("MAILER_SENDER_LOCK_GRACE", default=120)
# The public unsubscribe page, per client IP (django-ratelimit rate: "30/m", "500/h").
MAILER_UNSUBSCRIBE_RATE_LIMIT = env.str("MAILER_UNSUBSCRIBE_RATE_LIMIT", default="30/m")
# Two-way sync with smtp.bz's own suppression list (hourly): import theirs, and with PUSH
# also send ours that they lack.
MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC = strict_bool("MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC", default=False)
MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH = strict_bool("MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH", default=False)
# How far back each delivery-status sync reads smtp.bz's message log (bounces and opens come late).
MAILER_DELIVERY_SYNC_DAYS = strict_int("MAILER_DELIVERY_SYNC_DAYS", default=3)

# Campaign templates run in a sandbox (mailer.engine.templating): one message may not render to
# more than this many bytes, nor take longer than this many seconds.
MAILER_TEMPLATE_MAX_OUTPUT_BYTES = strict_int("MAILER_TEMPLATE_MAX_OUTPUT_BYTES", default=1_000_000)
MAILER_TEMPLATE_RENDER_SECONDS = strict_float("MAILER_TEMPLATE_RENDER_SECONDS", default=2.0)

# Campaign attachments: what staff may upload. Page-like types (html, svg, js, …) are
# refused even if listed here (mailer/attachments.py).
MAILER_ATTACHMENT_EXTENSIONS = env.list(
    "MAILER_ATTACHMENT_EXTENSIONS",
    default=[
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "odt",
        "ods",
        "odp",
        "rtf",
        "csv",
        "txt",
        "png",
        "jpg",
        "jpeg",
        "gif",
    ],
)
MAILER_ATTACHMENT_MAX_BYTES = strict_int("MAILER_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)

# --- Spreadsheet imports (XLSX/CSV): bounded, read through mailer.spreadsheets.reader ------
# Checked before the file is parsed; the row limit is MAILER_MAX_CAMPAIGN_RECIPIENTS.
MAILER_IMPORT_MAX_BYTES = strict_int("MAILER_IMPORT_MAX_BYTES", default=10 * 1024 * 1024)
# What an XLSX (a zip) may unpack to, in all and per member, checked before openpyxl opens it.
# Real workbooks unpack 5-20 times; a "zip bomb" hundreds of times.
MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES = strict_int("MAILER_IMPORT_MAX_UNCOMPRESSED_BYTES", default=50 * 1024 * 1024)
MAILER_IMPORT_MAX_COMPRESSION_RATIO = strict_int("MAILER_IMPORT_MAX_COMPRESSION_RATIO", default=100)
# Uploads waiting for «Подтвердить импорт»: private (never served, unlike MEDIA_ROOT), an hour at most.
MAILER_IMPORT_UPLOAD_DIR = Path(env.str("MAILER_IMPORT_UPLOAD_DIR", default=str(DATA_DIR / "import-uploads")))
# Django's own bounds, explicit: form fields in memory up to 2.5 MB (a request over it is
# refused), uploaded files kept in memory up to 2.5 MB and spooled to a temporary file above.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# django-ratelimit: behind a reverse proxy REMOTE_ADDR is the proxy; name a META key holding
# the one client address the proxy sets (e.g. HTTP_X_REAL_IP). Empty: REMOTE_ADDR. The login
# throttle and the unsubscribe page read it through config/client_ip.py.
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="")
# W001: Django's own RedisCache is not on django-ratelimit's list, yet it works (INCR is
# atomic), so the warning is silenced on purpose. E003: the embedded mode's DatabaseCache
# increments non-atomically; a single local process can live with that.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if REDIS_URL else ["django_ratelimit.E003"])

LOGGING = logs.logging_settings(
    console_format=env.str("LOG_FORMAT", default="text" if DEBUG else "json"),
    level=env.str("LOG_LEVEL", default="INFO"),
    mailer_level=env.str("MAILER_LOG_LEVEL", default="INFO"),
)
