"""The LOGGING setting: every handler redacts e-mail addresses (mailer.pii); JSON lines in
production, key=value text on a developer's machine."""


def logging_settings(*, console_format: str, level: str, mailer_level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_emails": {"()": "mailer.pii.RedactEmailsFilter"}},
        "formatters": {
            "text": {"()": "mailer.pii.KeyValueFormatter"},
            "django.server": {
                "()": "django.utils.log.ServerFormatter",
                "format": "[{server_time}] {message}",
                "style": "{",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "asctime": "time", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": console_format,
                "filters": ["redact_emails"],
            },
            # runserver's request lines (`make run`), as Django prints them, redacted.
            "django.server": {
                "class": "logging.StreamHandler",
                "formatter": "django.server",
                "filters": ["redact_emails"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "mailer": {"level": mailer_level},
            # With a handler of its own here, run_huey does not add a second one (every line twice).
            "huey": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "mail.log": {"level": "WARNING"},  # aiosmtpd's catcher narrates every SMTP command
            # Django's own handlers for these have no redaction filter (DEBUG's console copy of
            # "Not Found: /path", mail to ADMINS, runserver's lines): replaced by ours.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
            "py.warnings": {"handlers": [], "propagate": True},
        },
    }
