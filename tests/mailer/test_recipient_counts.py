"""The recipients counted per (campaign, status) by the database's triggers (migration 0009)
agree with a live count after every kind of write: bulk insert, the sender's updates, staff's
retry, suppression, deletion of a recipient and of a whole campaign."""

import pytest
from django.db import connection
from django.db.models import Count

from mailer import recipient_counts, selectors, services, transitions
from mailer.models import Campaign, CampaignRecipient
from mailer.suppression import suppress
from tests.conftest import make_campaign

Status = CampaignRecipient.Status


def live(campaign_id):
    rows = CampaignRecipient.objects.filter(campaign_id=campaign_id).values("status").annotate(n=Count("id"))
    statuses = {row["status"]: row["n"] for row in rows}
    return recipient_counts._counts(statuses)


def test_counts_follow_inserts_updates_and_deletes(owner, mail_account, clock):
    campaign = make_campaign(owner, recipients=6)
    other = make_campaign(owner, recipients=2, name="Другая")
    assert selectors.recipient_counts([campaign.pk])[campaign.pk] == selectors.Counts(total=6, pending=6)

    ids = list(campaign.recipients.order_by("id").values_list("id", flat=True))
    CampaignRecipient.objects.filter(pk__in=ids[:3]).update(status=Status.SENT)
    CampaignRecipient.objects.filter(pk=ids[3]).update(status=Status.FAILED, error_kind="transient")
    suppress(campaign.recipients.get(pk=ids[4]).email, source="manual")
    CampaignRecipient.objects.filter(pk=ids[5]).delete()
    counts = selectors.recipient_counts([campaign.pk, other.pk])
    assert counts[campaign.pk] == live(campaign.pk) == selectors.Counts(total=5, sent=3, failed=1, unsubscribed=1)
    assert counts[other.pk] == live(other.pk)

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    campaign.refresh_from_db()
    services.campaign_retry_failed(campaign=campaign, user=owner)
    assert selectors.recipient_counts([campaign.pk])[campaign.pk] == live(campaign.pk)

    transitions.mark_unsubscribed(campaign_id=other.pk, emails=["client0@example.com"])
    other.delete()
    assert selectors.recipient_counts([other.pk])[other.pk] == selectors.Counts()


def test_progress_reads_the_counts(owner):
    campaign = make_campaign(owner, recipients=4)
    CampaignRecipient.objects.filter(pk=campaign.recipients.first().pk).update(status=Status.SENT)
    progress = selectors.campaign_progress(campaign)
    assert (progress.total, progress.sent, progress.pending, progress.percent) == (4, 1, 3, 25)


@pytest.mark.django_db(transaction=True)
def test_truncating_the_recipients_clears_the_counts(owner):
    campaign = make_campaign(owner, recipients=2)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE mailer_campaignrecipient CASCADE")
    assert selectors.recipient_counts([campaign.pk])[campaign.pk] == selectors.Counts()
