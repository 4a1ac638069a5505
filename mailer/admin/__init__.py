"""The mailer's back-office screens, one module a screen."""

from . import (  # noqa: F401
    account,
    campaigns,
    queue,
    recipients,
    sendlog,
    unsubscribes,
)
