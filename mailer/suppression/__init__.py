"""The suppression list: addresses the mailer must never write to again."""

import logging
from dataclasses import dataclass
from itertools import batched

from django.db import transaction
from redis.exceptions import RedisError

from mailer import transitions
from mailer.addresses import normalize_email
from mailer.models import Unsubscribe
from mailer.pii import email_log_fields

logger = logging.getLogger(__name__)

BATCH = 1000  # addresses per statement


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
    """The subset of `emails` (normalised) that is on the list: one query a thousand addresses."""
    found = set()
    for batch in batched(emails, BATCH):
        found.update(Unsubscribe.objects.filter(email__in=batch).values_list("email", flat=True))
    return found


@dataclass(frozen=True)
class SuppressedMany:
    added: int  # new on the list
    listed: int  # were on it already
    recipients_marked: int  # waiting recipients that will now get nothing


@transaction.atomic
def suppress_many(emails, *, source, user=None) -> SuppressedMany:
    """`suppress()` for a whole list (an import): the same rows and marks, a few statements a
    thousand addresses instead of a few an address, and one log line."""
    emails = list(dict.fromkeys(normalize_email(email) for email in emails))
    listed = suppressed_among(emails)
    new = [email for email in emails if email not in listed]
    Unsubscribe.objects.bulk_create(
        [Unsubscribe(email=email, source=source, created_by=user) for email in new],
        batch_size=BATCH,
        ignore_conflicts=True,  # added meanwhile by a recipient's click: on the list either way
    )
    marked = sum(transitions.mark_unsubscribed(emails=batch) for batch in batched(new, BATCH))
    fields = {"source": source, "added": len(new), "user_id": user.pk if user else None, "recipients_marked": marked}
    transaction.on_commit(lambda: logger.info("Addresses added to the suppression list", extra=fields))
    return SuppressedMany(added=len(new), listed=len(listed), recipients_marked=marked)
