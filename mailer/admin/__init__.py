"""The mailer's back-office screens, one module a screen."""

from mailer.admin import (  # noqa: F401
    account,
    campaigns,
    companies,
    queue,
    recipients,
    reports,
    sendlog,
    unsubscribes,
)
