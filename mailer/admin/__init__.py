"""The mailer's back-office screens, one module a screen."""

from . import account, campaigns, queue, recipients, sendlog, unsubscribes  # noqa: F401
from . import outbox  # noqa: F401  (its views mount through UNFOLD["SITE_VIEWS"])
