"""What the sender tells a campaign's owner (a notification each, at most once per event)
and logs when it defers, stops or finishes a campaign."""

import logging

from django.urls import reverse

from backoffice.notifications import notify
from mailer import selectors
from mailer.engine import policy
from mailer.engine.policy import Deferral
from mailer.models import Campaign, CampaignQueue
from mailer.pii import redact

logger = logging.getLogger(__name__)

Reason = CampaignQueue.DeferReason
PauseReason = CampaignQueue.PauseReason


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


# What the owner must do after the sender paused a campaign, by pause reason.
ADVICE = {
    PauseReason.TEMPLATE_ERROR: "Исправьте шаблон и возобновите кампанию.",
    PauseReason.BUILD_ERROR: "Загрузите файл вложения заново или удалите его, затем возобновите кампанию.",
    PauseReason.SENDER_REFUSED: (
        "Проверьте адрес отправителя и настройки почты, затем возобновите кампанию. "
        "Получатели не помечены ошибкой: письма уйдут после возобновления."
    ),
    PauseReason.MESSAGE_REFUSED: (
        "Исправьте письмо (размер, вложения, содержание) и возобновите кампанию. "
        "Получатели не помечены ошибкой: письма уйдут после возобновления."
    ),
}


def paused_by_sender(queue: CampaignQueue, *, reason: str, detail: str, paused: bool) -> None:
    """Logged each time; the owner hears of it when this pass paused the campaign."""
    logger.error(
        "Campaign paused by the sender",
        extra={"campaign_id": queue.campaign_id, "queue_id": queue.pk, "pause_reason": reason, "error": redact(detail)},
    )
    if paused:
        _notify_owner(
            queue.campaign,
            kind=reason,
            title=f"Кампания «{queue.campaign.name}» остановлена",
            text=f"{detail} {ADVICE[reason]}",
        )


def finished(queue: CampaignQueue, counts: dict) -> None:
    failed = counts.get("failed", 0)
    sent = counts.get("sent", 0)
    unknown = counts.get("unknown", 0)
    logger.info(
        "Campaign finished",
        extra={
            "campaign_id": queue.campaign_id,
            "queue_id": queue.pk,
            "finished_with_errors": bool(failed or unknown),
            "sent": sent,
            "failed": failed,
            "unknown": unknown,
            "unsubscribed": counts.get("unsubscribed", 0),
        },
    )
    text = f"Отправлено: {sent}."
    if failed:
        text += f" Не отправлено: {failed} — их можно повторить кнопкой «Повторить неудачные»."
    if unknown:
        text += (
            f" Неизвестно, дошло ли: {unknown} — соединение оборвалось после передачи письма; "
            "они повторяются, только если отметить «включая неизвестные»."
        )
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
