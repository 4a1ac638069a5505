"""The mailer's back-office screens, one module a screen."""

from . import (  # noqa: F401
    account,
    campaigns,
    outbox,  # noqa: F401  (its views mount through UNFOLD["SITE_VIEWS"])
    queue,
    recipients,
    sendlog,
    unsubscribes,
)
