"""The campaign screen's actions: each button, row menu item and bulk action translates a click
into a service call (mailer.services) and its answer into a message, and is recorded in the
admin log with its actor.

Which buttons a campaign shows is decided by BUTTONS: each action and the model predicate
that decides it, the same predicate the service checks. A stale page whose button no longer
applies still posts to the service, which refuses in Russian.
"""

from urllib.parse import urlsplit

from django.contrib import admin
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from unfold.decorators import action
from unfold.enums import ActionVariant

from mailer import services, tasks
from mailer.admin.base import redirect_after_action, run_action
from mailer.admin.campaign_dialogs import RetryFailedForm, StartForm, TestEmailForm
from mailer.admin.forms import AddRecipientsForm, CompaniesFilterForm, ConfirmDialogForm
from mailer.campaign_status import scheduled_label
from mailer.models import Campaign

# Each detail and row action and the Campaign predicate it shows by (None: always).
BUTTONS = {
    "detail_start": "can_start",
    "detail_schedule": "can_start",
    "detail_unschedule": "is_scheduled",
    "detail_pause": "can_pause",
    "detail_resume": "can_resume",
    "detail_test_email": None,
    "detail_retry_failed": "can_retry_failed",
    "detail_add_recipients": "can_add_recipients",
    "detail_from_companies": "can_add_recipients",
    "detail_import_recipients": "can_add_recipients",
    "detail_duplicate": None,
}


def button_applies(name: str, campaign: Campaign) -> bool:
    predicate = BUTTONS[name]
    return predicate is None or getattr(campaign, predicate)


# The actions that change a campaign's state: service, admin log entry, success message, and
# whether to wake the sender now rather than at its next 30-second tick.
STAFF_ACTIONS = {
    "start": (
        services.campaign_start,
        "Запуск кампании",
        lambda c: f"Кампания «{c.name}» поставлена в очередь на отправку.",
        True,
    ),
    "pause": (services.campaign_pause, "Пауза кампании", lambda c: f"Кампания «{c.name}» на паузе.", False),
    "resume": (
        services.campaign_resume,
        "Возобновление кампании",
        lambda c: f"Кампания «{c.name}» возобновлена: отправка продолжится, как только позволят лимиты.",
        True,
    ),
    "retry": (
        services.campaign_retry_failed,
        "Повтор неудачных",
        lambda retried: f"В очередь возвращено писем: {retried}.",
        True,
    ),
    "schedule": (
        services.campaign_schedule,
        "Кампания запланирована",
        lambda c: f"Кампания «{c.name}» з{scheduled_label(c.scheduled_at)[1:]}.",
        False,
    ),
    "unschedule": (
        services.campaign_unschedule,
        "Расписание отменено",
        lambda c: f"Расписание кампании «{c.name}» отменено: она снова черновик.",
        False,
    ),
}


def dialog(title, description="", form_class=ConfirmDialogForm, submit="Подтвердить"):
    """An unfold action dialog: what it asks, its form and its button (the planning actions too)."""
    return {"title": title, "description": description, "form_class": form_class, "form_submit_text": submit}


class CampaignActionsMixin:
    actions = ("start_selected", "pause_selected", "resume_selected", "retry_selected")
    # The row's menu: what applies to it.
    actions_row = (
        "detail_start",
        "detail_schedule",
        "detail_unschedule",
        "detail_pause",
        "detail_resume",
        "detail_duplicate",
    )
    # The toolbar: what changes the state stays in sight (a campaign shows one or two of
    # them), the rest is under «Ещё», so the breadcrumbs keep their room at 1440 px.
    actions_detail = (
        "detail_start",
        "detail_schedule",
        "detail_unschedule",
        "detail_pause",
        "detail_resume",
        "detail_retry_failed",
        "detail_test_email",
        {
            "title": "Ещё",
            "icon": "more_horiz",
            "items": ["detail_add_recipients", "detail_from_companies", "detail_import_recipients", "detail_duplicate"],
        },
    )

    # --- which buttons show -----------------------------------------------------------------

    def get_actions_detail(self, request, object_id):
        campaign = self.get_object(request, object_id)
        shown = super().get_actions_detail(request, object_id)
        return [a for a in shown if campaign is not None and button_applies(a.method.__name__, campaign)]

    def row_actions(self, actions_row, campaign):
        """The row's menu (unfold's entries for the list): only the actions its campaign allows."""
        names = {f"{self.admin_site.name}:{a.action_name}": a.method.__name__ for a in self._get_base_actions_row()}
        return [entry for entry in actions_row if button_applies(names[entry["raw_path"]], campaign)]

    # --- one helper, many buttons -------------------------------------------------------------

    def _campaign(self, request, object_id):
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404("Кампания не найдена.")
        return campaign

    def _act(self, request, campaign, call, *, log, success, wakes_sender=False):
        """Runs `call()`, tells the user what happened, and records it in the admin log.

        `wakes_sender`: queue a sender pass now rather than at the next 30-second tick.
        """
        result = run_action(request, call, success=success)
        if result is not None:
            self.log_change(request, campaign, log)
            if wakes_sender:
                transaction.on_commit(tasks.wake_sender)
        return result

    def _back(self, request, campaign):
        """Back to the list (with its filters) when the dialog was opened there, else to the
        campaign page."""
        listing = reverse("admin:mailer_campaign_changelist")
        came_from = request.headers.get("Referer", "")
        from_list = urlsplit(came_from).path == listing and url_has_allowed_host_and_scheme(
            came_from, allowed_hosts={request.get_host()}
        )
        return redirect_after_action(
            request, came_from if from_list else reverse("admin:mailer_campaign_change", args=[campaign.pk])
        )

    def _staff_action(self, request, campaign, name, **options):
        """One of STAFF_ACTIONS on one campaign: the service's answer shown, the admin log written."""
        service, log, success, wakes_sender = STAFF_ACTIONS[name]
        return self._act(
            request,
            campaign,
            lambda: service(campaign=campaign, user=request.user, **options),
            log=log,
            success=success,
            wakes_sender=wakes_sender,
        )

    def _bulk(self, request, queryset, name):
        for campaign in queryset:
            self._staff_action(request, campaign, name)

    # --- list (bulk) actions: Django's own POST form with the selected rows ---------------------
    # Each selected campaign is asked separately; those the action does not apply to answer
    # with their own refusal.

    @admin.action(description="Запустить выбранные", permissions=["change"])
    def start_selected(self, request, queryset):
        self._bulk(request, queryset, "start")

    @admin.action(description="Поставить на паузу", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, "pause")

    @admin.action(description="Возобновить", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._bulk(request, queryset, "resume")

    @admin.action(description="Повторить неудачные", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._bulk(request, queryset, "retry")

    # --- row and detail actions: a dialog posts the confirmation (no state change on GET);
    # afterwards the user is back on the page the dialog was opened from.

    @action(
        description="Запустить",
        icon="play_arrow",
        permissions=["change"],
        url_path="start",
        variant=ActionVariant.PRIMARY,
        dialog=dialog(
            "Запустить кампанию?",
            "Письма уйдут в рабочее время в пределах лимитов.",
            form_class=StartForm,
            submit="Запустить",
        ),
    )
    def detail_start(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "start")
        return self._back(request, campaign)

    @action(
        description="Пауза",
        icon="pause",
        permissions=["change"],
        url_path="pause",
        dialog=dialog("Поставить кампанию на паузу?", submit="Пауза"),
    )
    def detail_pause(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "pause")
        return self._back(request, campaign)

    @action(
        description="Возобновить",
        icon="resume",
        permissions=["change"],
        url_path="resume",
        dialog=dialog(
            "Возобновить кампанию?",
            "Отложенная или остановленная кампания продолжит отправку; лимиты проверятся снова.",
            submit="Возобновить",
        ),
    )
    def detail_resume(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "resume")
        return self._back(request, campaign)

    @action(
        description="Тестовое письмо",
        icon="forward_to_inbox",
        permissions=["change"],
        url_path="test-email",
        dialog=dialog(
            "Отправить тестовое письмо",
            "Письма уйдут сразу; каждое учтётся в лимите писем в час и в лимите тестовых писем.",
            form_class=TestEmailForm,
            submit="Отправить",
        ),
    )
    def detail_test_email(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        to, as_recipient = form.cleaned_data["to"], form.cleaned_data["as_recipient"]
        self._act(
            request,
            campaign,
            lambda: services.send_test_emails(campaign=campaign, user=request.user, to=to, as_recipient=as_recipient),
            log="Тестовое письмо",
            success=lambda logs: f"Тестовое письмо отправлено на {', '.join(log.email for log in logs)}.",
        )
        return self._back(request, campaign)

    @action(
        description="Повторить неудачные",
        icon="replay",
        permissions=["change"],
        url_path="retry-failed",
        dialog=dialog(
            "Повторить неудачные письма?",
            "Вернутся в очередь письма с временными ошибками; адреса, которые сервер отклонил, не повторяются. "
            "Письма с неизвестным исходом — только если отметить «включая неизвестные».",
            form_class=RetryFailedForm,
            submit="Повторить",
        ),
    )
    def detail_retry_failed(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._staff_action(request, campaign, "retry", include_unknown=form.cleaned_data["include_unknown"])
        return self._back(request, campaign)

    @action(
        description="Добавить получателей",
        icon="person_add",
        permissions=["change"],
        url_path="add-recipients",
        dialog=dialog("Добавить получателей", form_class=AddRecipientsForm, submit="Добавить"),
    )
    def detail_add_recipients(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        recipients = form.new_recipients()
        self._act(
            request,
            campaign,
            lambda: services.add_recipients(campaign=campaign, recipients=recipients),
            log="Добавлены получатели вручную",
            success=lambda result: result.summary(),
        )
        return self._back(request, campaign)

    @action(
        description="Из компаний",
        icon="apartment",
        permissions=["change"],
        url_path="from-companies",
        dialog=dialog(
            "Получатели из компаний",
            "E-mail компаний и их контактов станут получателями; повторы и отписавшиеся учитываются.",
            form_class=CompaniesFilterForm,
            submit="Добавить",
        ),
    )
    def detail_from_companies(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        companies = form.companies()
        self._act(
            request,
            campaign,
            lambda: services.recipients_from_companies(campaign=campaign, companies=companies),
            log="Добавлены получатели из компаний",
            success=lambda result: result.summary(),
        )
        return self._back(request, campaign)

    @action(description="Импорт из файла", icon="upload_file", permissions=["change"], url_path="import-recipients")
    def detail_import_recipients(self, request, object_id):
        """The recipients' import page with this campaign chosen; the import lands back here."""
        campaign = self._campaign(request, object_id)
        return HttpResponseRedirect(f"{reverse('admin:mailer_campaignrecipient_import')}?campaign={campaign.pk}")
