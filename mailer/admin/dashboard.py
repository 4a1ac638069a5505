"""The back-office home page: today's sends, limits, the active campaign, the last 24 hours."""

import json
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from mailer import delivery_report, selectors
from mailer.engine import policy
from mailer.models import SendLog


def dashboard_callback(request, context):
    now = timezone.now()
    user = request.user
    logs = SendLog.objects.all() if user.is_superuser else SendLog.objects.filter(campaign__created_by=user)
    today = logs.filter(created_at__gte=policy.day_start(now=now)).aggregate(
        sent=Count("id", filter=Q(status=SendLog.Status.SENT)),
        failed=Count("id", filter=Q(status=SendLog.Status.FAILED)),
    )
    snapshot = selectors.snapshot(now=now, can_see=lambda c: user.is_superuser or c.created_by_id == user.pk)
    context.update(
        {
            "today": today,
            "snapshot": snapshot,
            "working_hours_label": policy.working_hours_label(),
            "zone_label": policy.zone_label(),
            "chart": json.dumps(_hourly_chart(logs, now=now), ensure_ascii=False),
            "delivery_sync": delivery_report.sync_state(),
        }
    )
    return context


def _hourly_chart(logs, *, now):
    """Sends per hour for the last 24 hours, in the mailer's time zone, empty hours included."""
    zone = policy.zone()
    first = policy.next_hour_start(now=now) - timedelta(hours=24)
    counts = dict(
        logs.filter(status=SendLog.Status.SENT, created_at__gte=first)
        .annotate(hour=TruncHour("created_at", tzinfo=zone))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    hours = [first + timedelta(hours=i) for i in range(24)]
    return {
        "labels": [f"{policy.local_time(h):%H:00}" for h in hours],
        "datasets": [{"label": "Отправлено", "data": [counts.get(h, 0) for h in hours]}],
    }
