"""The mailer's back-office screens, one module a screen."""

from mailer.admin import account, campaigns, queue, recipients, sendlog, unsubscribes  # noqa: F401
