"""The suppression list: addresses the mailer must never write to again."""

from .addresses import normalize_email
from .models import CampaignRecipient, Unsubscribe


def suppress(email, *, source, campaign=None, user=None):
    """Adds the address (idempotent) and marks its waiting recipients `unsubscribed`.

    Returns (Unsubscribe, created).
    """
    email = normalize_email(email)
    entry, created = Unsubscribe.objects.get_or_create(
        email=email, defaults={"source": source, "campaign": campaign, "created_by": user}
    )
    CampaignRecipient.objects.filter(email=email, status=CampaignRecipient.Status.PENDING).update(
        status=CampaignRecipient.Status.UNSUBSCRIBED
    )
    return entry, created


def suppressed_among(emails):
    """The subset of `emails` (normalised) that is on the list, in one query."""
    return set(Unsubscribe.objects.filter(email__in=list(emails)).values_list("email", flat=True))
