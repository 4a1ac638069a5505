"""How a campaign's plan and status read for staff: «Запланирована на 03.12.2026 в 10:00
(МСК)», «Завершена с ошибками (N)», and the campaigns waiting for their planned time (the
dashboard and the poll list them apart: they are not in line before then).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailer.engine import policy
from mailer.models import Campaign, CampaignQueue

PLANNED_SHOWN = 10
OTHER_MANAGERS_CAMPAIGN = "Кампания другого менеджера"


@dataclass(frozen=True)
class Planned:
    """A campaign waiting for the time staff planned (not in line before then)."""

    id: int | None  # None: another manager's campaign, shown without its name
    name: str
    at: datetime


def scheduled_label(at: datetime) -> str:
    """«Запланирована на 03.12.2026 в 10:00 (МСК)»."""
    return f"Запланирована на {policy.local_time(at):%d.%m.%Y в %H:%M} ({policy.zone_label()})"


def campaign_status_text(campaign: Campaign, *, failed: int) -> tuple[str, str]:
    """The status as it is, not only as stored: (key, text). A plan names its time; a
    campaign whose queue finished with failures stays `sending` (to be retried) but says
    it is over. `campaign.queue` should be fetched with it."""
    queue = campaign.current_queue
    if campaign.is_scheduled:
        return "scheduled", scheduled_label(queue.deferred_until)
    if campaign.status == Campaign.Status.SENDING and queue is not None and queue.is_completed and failed:
        return "finished_with_errors", f"Завершена с ошибками ({failed})"
    return campaign.status, campaign.get_status_display()


def planned(queues: list[CampaignQueue], *, can_see: Callable[[Campaign], bool]) -> list[Planned]:
    """The campaigns of `queues` (waiting for their planned time), soonest first."""
    return [
        Planned(id=q.campaign_id, name=q.campaign.name, at=q.deferred_until)
        if can_see(q.campaign)
        else Planned(id=None, name=OTHER_MANAGERS_CAMPAIGN, at=q.deferred_until)
        for q in sorted(queues, key=lambda q: q.deferred_until)[:PLANNED_SHOWN]
    ]
