"""The suppression list: addresses the mailer must never write to again."""

import logging

from django.db import transaction
from redis.exceptions import RedisError

from mailer import transitions
from mailer.addresses import normalize_email
from mailer.models import Unsubscribe
from mailer.pii import email_log_fields

logger = logging.getLogger(__name__)


def suppress(email, *, source, campaign=None, user=None):
    """Adds the address (idempotent) and marks its waiting recipients `unsubscribed`.

    Every way onto the list (the public page, one-click, bounces, the admin, imports, the
    provider's list) comes through here, so the address is normalised in one place.
    Returns (Unsubscribe, created).
    """
    email = normalize_email(email)
    entry, created = Unsubscribe.objects.get_or_create(
        email=email, defaults={"source": source, "campaign": campaign, "created_by": user}
    )
    skipped = transitions.mark_unsubscribed(emails=[email])
    if created:
        fields = {
            **email_log_fields(email),
            "source": source,
            "campaign_id": campaign.pk if campaign else None,
            "user_id": user.pk if user else None,
            "pending_recipients_skipped": skipped,
        }
        # After commit: an import's dry run adds rows and then rolls them back.
        transaction.on_commit(lambda: logger.info("Address added to the suppression list", extra=fields))
        if source != Unsubscribe.Source.PROVIDER:  # theirs already
            transaction.on_commit(lambda: _push_to_provider(email))
    return entry, created


def _push_to_provider(email):
    # Imported here: the provider's package builds on this one.
    from mailer.smtp_bz.suppression import push_enabled
    from mailer.tasks import push_unsubscribe_to_smtp_bz

    if not push_enabled():
        return
    try:
        push_unsubscribe_to_smtp_bz(email)
    except RedisError as exc:  # the hourly sync pushes it later; the unsubscribe itself stands
        extra = {**email_log_fields(email), "error": str(exc)}
        logger.error("Could not queue the unsubscribe for smtp.bz", extra=extra)


def suppressed_among(emails):
    """The subset of `emails` (normalised) that is on the list, in one query."""
    return set(Unsubscribe.objects.filter(email__in=list(emails)).values_list("email", flat=True))
