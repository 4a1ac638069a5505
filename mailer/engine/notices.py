"""What the sender tells a campaign's owner (a notification each, at most once per event)
and logs when it defers, stops or finishes a campaign."""

import logging

from django.urls import reverse

from backoffice.notifications import notify
from mailer import selectors
from mailer.engine import policy
from mailer.engine.policy import Deferral
from mailer.engine.templating import CampaignTemplateError
from mailer.models import Campaign, CampaignQueue

logger = logging.getLogger(__name__)

Reason = CampaignQueue.DeferReason


def deferred(queue: CampaignQueue, deferral: Deferral) -> None:
    """Once per reason and time: the next pass finding the gate still closed says nothing new."""
    logger.info(
        "Campaign deferred",
        extra={
            "campaign_id": queue.campaign_id,
            "queue_id": queue.pk,
            "defer_reason": deferral.reason,
            "deferred_until": deferral.until.isoformat(),
        },
    )
    until = policy.local_time(deferral.until)
    _notify_owner(
        queue.campaign,
        kind="campaign_deferred",
        title=f"Кампания «{queue.campaign.name}» отложена",
        text=(
            f"{selectors.reason_label(deferral.reason)}. "
            f"Отправка продолжится {until:%d.%m.%Y в %H:%M} ({policy.zone_label()})."
        ),
        dedupe_key=f"defer:{queue.pk}:{deferral.reason}:{deferral.until.isoformat()}",
    )


def circuit_breaker_opened(queue: CampaignQueue, *, errors: int) -> None:
    logger.error(
        "Circuit breaker opened: campaign paused after consecutive transient errors",
        extra={"campaign_id": queue.campaign_id, "queue_id": queue.pk, "consecutive_transient_errors": errors},
    )
    _notify_owner(
        queue.campaign,
        kind="circuit_breaker",
        title=f"Кампания «{queue.campaign.name}» остановлена",
        text=f"{errors} ошибок SMTP подряд. Проверьте настройки почты и возобновите кампанию вручную.",
        dedupe_key=f"breaker:{queue.pk}:{queue.queued_at.isoformat()}:{errors}",
    )


def template_failed(queue: CampaignQueue, error: CampaignTemplateError, *, paused: bool) -> None:
    """Logged each time; the owner hears of it when this pass paused the campaign."""
    logger.error(
        "Campaign paused: its template does not render",
        extra={"campaign_id": queue.campaign_id, "queue_id": queue.pk, "error": error.problem},
    )
    if paused:
        _notify_owner(
            queue.campaign,
            kind="template_error",
            title=f"Кампания «{queue.campaign.name}» остановлена",
            text=f"{error} Исправьте шаблон и возобновите кампанию.",
        )


def finished(queue: CampaignQueue, counts: dict) -> None:
    failed = counts.get("failed", 0)
    sent = counts.get("sent", 0)
    logger.info(
        "Campaign finished",
        extra={
            "campaign_id": queue.campaign_id,
            "queue_id": queue.pk,
            "finished_with_errors": bool(failed),
            "sent": sent,
            "failed": failed,
            "unsubscribed": counts.get("unsubscribed", 0),
        },
    )
    text = f"Отправлено: {sent}."
    if failed:
        text += f" Не отправлено: {failed} — их можно повторить кнопкой «Повторить неудачные»."
    _notify_owner(
        queue.campaign,
        kind="campaign_finished",
        title=f"Кампания «{queue.campaign.name}» завершена",
        text=text,
        dedupe_key=f"finished:{queue.pk}:{queue.queued_at.isoformat()}",
    )


def _notify_owner(campaign: Campaign, *, kind: str, title: str, text: str, dedupe_key: str = "") -> None:
    notify(
        user=campaign.created_by,
        kind=kind,
        title=title,
        text=text,
        link=reverse("admin:mailer_campaign_change", args=[campaign.pk]),
        dedupe_key=dedupe_key,
    )
