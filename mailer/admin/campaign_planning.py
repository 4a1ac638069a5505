"""The campaign screen's actions for later and again: «Запланировать» (a date and time in the
mailer's zone), «Отменить расписание» and «Дублировать». Each is a dialog whose posting calls
the service, as in campaign_actions.py (whose BUTTONS decide when they show).
"""

from django.urls import reverse
from unfold.decorators import action

from mailer import services
from mailer.admin.base import redirect_after_action
from mailer.admin.campaign_actions import dialog
from mailer.admin.campaign_dialogs import DuplicateForm, ScheduleForm
from mailer.admin.forms import ConfirmDialogForm


class CampaignPlanningMixin:
    @action(
        description="Запланировать",
        icon="schedule",
        permissions=["change"],
        url_path="schedule",
        dialog=dialog(
            "Запланировать отправку",
            "Кампания встанет в очередь в указанное время; рабочие часы и лимиты проверятся и тогда.",
            ScheduleForm,
            "Запланировать",
        ),
    )
    def detail_schedule(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "schedule", at=form.cleaned_data["at"])
        return self._back(request, campaign)

    @action(
        description="Отменить расписание",
        icon="event_busy",
        permissions=["change"],
        url_path="unschedule",
        dialog=dialog(
            "Отменить расписание?", "Кампания станет черновиком: её снова можно править.", ConfirmDialogForm, "Отменить"
        ),
    )
    def detail_unschedule(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "unschedule")
        return self._back(request, campaign)

    @action(
        description="Дублировать",
        icon="content_copy",
        permissions=["change"],
        url_path="duplicate",
        dialog=dialog(
            "Дублировать кампанию",
            "Новый черновик с той же темой, текстом и вложениями.",
            DuplicateForm,
            "Создать копию",
        ),
    )
    def detail_duplicate(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        with_recipients = form.cleaned_data["with_recipients"]
        copy = self._act(
            request,
            campaign,
            lambda: services.campaign_duplicate(campaign=campaign, user=request.user, with_recipients=with_recipients),
            log="Создана копия кампании",
            success=lambda c: f"Создан черновик «{c.name}».",
        )
        if copy is None:
            return self._back(request, campaign)
        self.log_addition(request, copy, f"Копия кампании «{campaign.name}»")
        return redirect_after_action(request, reverse("admin:mailer_campaign_change", args=[copy.pk]))
