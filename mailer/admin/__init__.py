"""The mailer's back-office screens, one module a screen."""

from . import account, campaigns, queue, recipients, sendlog  # noqa: F401
