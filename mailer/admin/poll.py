"""`GET /admin/mailer/poll/`: the live state of the queue, for the progress bar and the
dashboard. Staff only; a fixed number of queries whatever the size of the campaigns."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils import timezone

from mailer import selectors
from mailer.models import Campaign, GlobalMailAccount


def poll(request):
    user = request.user
    if not user.has_perm("mailer.view_campaign"):
        raise PermissionDenied
    now = timezone.now()
    own = Campaign.objects.all() if user.is_superuser else Campaign.objects.filter(created_by=user)
    data = selectors.snapshot(now=now, can_see=lambda campaign: user.is_superuser or campaign.created_by_id == user.pk)
    data["daily"] = {
        "used": selectors.owner_sent_today(user.pk, now=now),
        "limit": GlobalMailAccount.load().per_user_daily_limit,
    }
    campaign_id = request.GET.get("campaign")
    if campaign_id:
        campaign = own.filter(pk=campaign_id).select_related("queue").first() if campaign_id.isdigit() else None
        if campaign is None:
            raise Http404("Кампания не найдена.")
        data["campaign"] = _campaign_state(campaign, now=now)
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


def _campaign_state(campaign, *, now):
    queue = getattr(campaign, "queue", None)
    return {
        **selectors.campaign_progress(campaign),
        "queue_status": queue.status if queue else None,
        "reason_code": queue.defer_reason if queue else "",
        "reason_text": selectors.reason_text(queue, now=now),
        "deferred_until": selectors.local_iso(queue.deferred_until) if queue else None,
        "pause_reason": queue.pause_reason if queue else "",
        "pause_detail": queue.pause_detail if queue else "",
    }
