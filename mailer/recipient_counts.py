"""How many recipients each campaign has in each status, as the database keeps them counted.

`mailer_recipient_count` holds recipients per (campaign, status), kept by triggers on every
insert, update and delete of a recipient (migration 0012): a campaign's progress is a read of
its few rows, whatever its size. The selectors, the admin's lists and `mailer_status` read
it here.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from mailer.models import CampaignRecipient

Recipient = CampaignRecipient.Status


@dataclass(frozen=True)
class Counts:
    """A campaign's recipients by status, as the database keeps them counted."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0  # waiting or being sent
    unsubscribed: int = 0
    unknown: int = 0  # the message may have arrived: never resent unless staff ask

    @property
    def done(self) -> int:
        return self.total - self.pending

    @property
    def percent(self) -> int:
        """The share of those who get a message already dealt with: unsubscribed recipients
        are neither progress (a draft is at 0 %) nor left to do."""
        to_send = self.total - self.unsubscribed
        return round(100 * (to_send - self.pending) / to_send) if to_send else 0


COUNTS_SQL = "SELECT campaign_id, status, n FROM mailer_recipient_count WHERE n <> 0 AND campaign_id IN ({})"
PENDING_STATUSES = (Recipient.PENDING, Recipient.SENDING)


def recipient_counts(campaign_ids: Iterable[int]) -> dict[int, Counts]:
    """Counts for each of `campaign_ids` (zeros for one without recipients), in one query."""
    ids = sorted(set(campaign_ids))
    by_campaign: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(COUNTS_SQL.format(", ".join(["%s"] * len(ids))), ids)
            for campaign_id, status, n in cursor.fetchall():
                by_campaign[campaign_id][status] = n
    return {pk: _counts(statuses) for pk, statuses in by_campaign.items()}


def _counts(statuses: dict[str, int]) -> Counts:
    return Counts(
        total=sum(statuses.values()),
        sent=statuses.get(Recipient.SENT, 0),
        failed=statuses.get(Recipient.FAILED, 0),
        pending=sum(statuses.get(status, 0) for status in PENDING_STATUSES),
        unsubscribed=statuses.get(Recipient.UNSUBSCRIBED, 0),
        unknown=statuses.get(Recipient.UNKNOWN, 0),
    )
