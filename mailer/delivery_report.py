"""Read models of what happened after sending: a campaign's report (counts, rates, a timeline,
the bounces) and the delivery-sync state the dashboard shows. A fixed number of queries
whatever the number of recipients (the bounce list is bounded; the export streams all)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncDay, TruncHour

from mailer.delivery_models import DeliverySync, RecipientDelivery
from mailer.engine import policy
from mailer.models import Campaign, CampaignRecipient, Unsubscribe
from mailer.recipient_counts import recipient_counts

Delivery = RecipientDelivery.Status
BOUNCES = list(RecipientDelivery.BOUNCES)
SHOWN_BOUNCES = 200
HOURLY_UP_TO = timedelta(hours=48)  # a longer span is drawn by days
# Unsubscribes that followed this campaign's message (not addresses skipped before sending).
UNSUBSCRIBED_SOURCES = (Unsubscribe.Source.LINK, Unsubscribe.Source.ONE_CLICK)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    count: int
    rate: float | None  # percent of `of`, None when `of` is zero
    of: str  # what the rate is a share of, in Russian


@dataclass(frozen=True)
class Bounce:
    email: str
    kind: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class SyncState:
    last_synced_at: datetime | None
    error: str
    error_at: datetime | None


@dataclass(frozen=True)
class Report:
    figures: list[Figure]
    hard_bounces: int  # of the bounces: the address does not exist (suppressed)
    soft_bounces: int  # temporary (shown, not suppressed)
    chart: dict  # Chart.js data: labels and one dataset a series
    bounces: list[Bounce]
    more_bounces: int
    sync: SyncState


def sync_state() -> SyncState:
    row = DeliverySync.load()
    return SyncState(last_synced_at=row.last_synced_at, error=row.error, error_at=row.error_at)


def campaign_report(campaign: Campaign) -> Report:
    totals = _totals(campaign)
    bounces = list(_bounces(campaign)[: SHOWN_BOUNCES + 1])
    return Report(
        figures=_figures(totals),
        hard_bounces=totals["hard"],
        soft_bounces=totals["soft"],
        chart=_chart(campaign),
        bounces=[_bounce(d) for d in bounces[:SHOWN_BOUNCES]],
        more_bounces=max(totals["bounced"] - SHOWN_BOUNCES, 0),
        sync=sync_state(),
    )


def delivery_counts(campaign_ids) -> dict[int, dict[str, int]]:
    """Delivered, bounced and opened per campaign of `campaign_ids` (a list page's rows), in
    one query over their delivery rows: the list never joins every recipient."""
    ids = list(campaign_ids)
    rows = (
        RecipientDelivery.objects.filter(campaign_id__in=ids)
        .values("campaign_id")
        .annotate(
            delivered=Count("pk", filter=Q(status=Delivery.DELIVERED)),
            bounced=Count("pk", filter=Q(status__in=BOUNCES)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
        )
    )
    counts = {pk: {"delivered": 0, "bounced": 0, "opened": 0} for pk in ids}
    for row in rows:
        counts[row.pop("campaign_id")] = row
    return counts


def _totals(campaign):
    deliveries = RecipientDelivery.objects.filter(campaign=campaign).aggregate(
        delivered=Count("pk", filter=Q(status=Delivery.DELIVERED)),
        soft=Count("pk", filter=Q(status=Delivery.SOFT_BOUNCE)),
        hard=Count("pk", filter=Q(status=Delivery.HARD_BOUNCE)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
    )
    return {
        **deliveries,
        "bounced": deliveries["soft"] + deliveries["hard"],
        "sent": recipient_counts([campaign.pk])[campaign.pk].sent,
        "unsubscribed": Unsubscribe.objects.filter(campaign=campaign, source__in=UNSUBSCRIBED_SOURCES).count(),
    }


def _figures(t):
    def rate(count, of):
        return round(100 * count / of, 1) if of else None

    sent, delivered = t["sent"], t["delivered"]
    return [
        Figure("sent", "Отправлено", sent, None, ""),
        Figure("delivered", "Доставлено", delivered, rate(delivered, sent), "от отправленных"),
        Figure("bounced", "Отказы", t["bounced"], rate(t["bounced"], sent), "от отправленных"),
        Figure("opened", "Открыто", t["opened"], rate(t["opened"], delivered), "от доставленных"),
        Figure("unsubscribed", "Отписались", t["unsubscribed"], rate(t["unsubscribed"], sent), "от отправленных"),
    ]


def _bounces(campaign):
    return (
        RecipientDelivery.objects.filter(campaign=campaign, status__in=RecipientDelivery.BOUNCES)
        .select_related("recipient")
        .order_by("status_at", "pk")
    )


def _bounce(delivery):
    return Bounce(
        email=delivery.recipient.email,
        kind=delivery.get_status_display(),
        reason=delivery.reason,
        at=delivery.status_at,
    )


# --- the chart ----------------------------------------------------------------------------------


def _chart(campaign):
    """Sent, delivered, opened and bounced per hour (per day over two days), in the mailer's
    time zone, empty buckets included, from the first send to the last event."""
    sent = campaign.recipients.filter(sent_at__isnull=False)
    deliveries = RecipientDelivery.objects.filter(campaign=campaign)
    series = [
        ("Отправлено", sent, "sent_at", "#9333ea"),
        ("Доставлено", deliveries.filter(status=Delivery.DELIVERED), "status_at", "#16a34a"),
        ("Открыто", deliveries.filter(opened_at__isnull=False), "opened_at", "#2563eb"),
        ("Отказы", deliveries.filter(status__in=RecipientDelivery.BOUNCES), "status_at", "#dc2626"),
    ]
    span = [sent.aggregate(a=Min("sent_at"), b=Max("sent_at"))]
    span += [qs.aggregate(a=Min(f), b=Max(f)) for _, qs, f, _ in series[1:]]
    starts = [s["a"] for s in span if s["a"]]
    if not starts:
        return {"labels": [], "datasets": []}
    first, last = min(starts), max(s["b"] for s in span if s["b"])
    hourly = last - first <= HOURLY_UP_TO
    buckets = list(_buckets(first, last, hourly=hourly))
    label = "%d.%m %H:00" if hourly else "%d.%m"
    return {
        "labels": [f"{b:{label}}" for b in buckets],
        "datasets": [
            {"label": name, "data": _per_bucket(qs, field, buckets, hourly=hourly), "backgroundColor": colour}
            for name, qs, field, colour in series
        ],
    }


# unfold's chart takes these instead of its defaults: grouped bars, a legend, whole numbers.
CHART_OPTIONS = {
    "animation": False,
    "maintainAspectRatio": False,
    "maxBarThickness": 28,
    "plugins": {"legend": {"display": True, "position": "bottom", "labels": {"usePointStyle": True}}},
    "scales": {
        "x": {"grid": {"display": False}},
        "y": {"beginAtZero": True, "ticks": {"precision": 0}, "grid": {}},
    },
}


def _buckets(first, last, *, hourly) -> Iterator[datetime]:
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    moment = _floor(policy.local_time(first), hourly=hourly)
    end = policy.local_time(last)
    while moment <= end:
        yield moment
        moment = _floor(moment + step, hourly=hourly)  # re-floored: a DST change moves nothing here


def _floor(moment, *, hourly):
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment if hourly else moment.replace(hour=0)


def _per_bucket(qs, field, buckets, *, hourly):
    trunc = (TruncHour if hourly else TruncDay)(field, tzinfo=policy.zone())
    counts = dict(qs.annotate(bucket=trunc).values_list("bucket").annotate(n=Count("pk")).order_by())
    return [counts.get(b, 0) for b in buckets]


# --- the export -----------------------------------------------------------------------------

EXPORT_HEADERS = ["E-mail", "Имя", "Отправлено", "Статус доставки", "Время статуса", "Причина отказа", "Открыто"]


def export_rows(campaign: Campaign) -> Iterator[list]:
    """One row per sent recipient, in the mailer's time zone (naive, as spreadsheets want)."""
    recipients = (
        campaign.recipients.filter(status=CampaignRecipient.Status.SENT).select_related("delivery").order_by("pk")
    )
    for r in recipients.iterator(chunk_size=2000):
        d = getattr(r, "delivery", None)
        yield [
            r.email,
            r.name,
            _naive(r.sent_at),
            d.get_status_display() if d else "нет данных",
            _naive(d.status_at) if d else None,
            d.reason if d else "",
            _naive(d.opened_at) if d else None,
        ]


def _naive(moment):
    return policy.local_time(moment).replace(tzinfo=None) if moment else None
