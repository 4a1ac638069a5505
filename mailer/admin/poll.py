"""`GET /admin/mailer/poll/`: the live state of the queue, for the progress bar and the
dashboard. Staff only; a fixed number of queries whatever the size of the campaigns.

The JSON (checklist 18.1) is the selectors' read models as they are, times as ISO strings in
the mailer's zone: active_campaign, queue_status, reason_code, reason_text, next_run_at,
queued_count, next_campaign_at, hourly, quota, daily and, with ?campaign=ID, that campaign.
"""

import dataclasses

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils import timezone

from mailer import selectors
from mailer.models import Campaign


def poll(request):
    user = request.user
    if not user.has_perm("mailer.view_campaign"):
        raise PermissionDenied
    now = timezone.now()
    visible = Campaign.objects.visible_to(user)
    line = selectors.waiting_queues(now=now)
    snapshot = selectors.snapshot(
        now=now, can_see=lambda campaign: user.is_superuser or campaign.created_by_id == user.pk, line=line
    )
    data = {**selectors.as_json(snapshot), "daily": selectors.as_json(selectors.daily_usage_of(user, now=now))}
    campaign_id = request.GET.get("campaign")
    if campaign_id:
        data["campaign"] = selectors.as_json(_campaign_state(visible, campaign_id, line.active, snapshot, now=now))
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


def _campaign_state(visible, campaign_id, active, snapshot, *, now):
    """The asked campaign's progress and queue state. The active campaign (whose bar is
    watched, mostly) is in the snapshot already: no more queries."""
    if active is not None and str(active.campaign_id) == campaign_id and snapshot.active_campaign.id is not None:
        campaign, progress = active.campaign, snapshot.active_campaign
    else:
        campaign = (
            visible.filter(pk=campaign_id).select_related("queue").first()
            if campaign_id.isascii() and campaign_id.isdigit()
            else None
        )
        if campaign is None:
            raise Http404("Кампания не найдена.")
        progress = selectors.campaign_progress(campaign)
    state = selectors.queue_state(campaign.current_queue, now=now)
    return {**dataclasses.asdict(progress), **dataclasses.asdict(state)}
