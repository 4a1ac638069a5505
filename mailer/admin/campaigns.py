"""Campaigns: the list, the editor with its preview and recipients, and every action.

Actions only translate a click into a service call (mailer.services) and its answer into a
message; each is recorded in the admin log with its actor.
"""

from urllib.parse import urlsplit

from django.contrib import admin
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.http import url_has_allowed_host_and_scheme
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from mailer import services, status, tasks
from mailer.admin.base import OwnedAdminMixin, redirect_after_action, run_action
from mailer.admin.forms import (
    AddRecipientsForm,
    AttachmentForm,
    CampaignForm,
    CompaniesFilterForm,
    ConfirmDialogForm,
    RecipientForm,
    TestEmailForm,
)
from mailer.engine.compose import CampaignTemplate, sample_context
from mailer.engine.templating import CampaignTemplateError
from mailer.models import Campaign, CampaignAttachment, CampaignQueue, CampaignRecipient

Status = Campaign.Status
Recipient = CampaignRecipient.Status
EDITABLE = (Status.DRAFT, Status.PAUSED)


class AttachmentInline(TabularInline):
    model = CampaignAttachment
    form = AttachmentForm
    extra = 0
    verbose_name_plural = "Вложения"


class RecipientInline(TabularInline):
    model = CampaignRecipient
    form = RecipientForm
    fields = ("email", "name", "status", "error_kind", "last_error", "sent_at")
    readonly_fields = ("status", "error_kind", "last_error", "sent_at")
    extra = 0
    per_page = 25
    tab = True
    show_count = True
    verbose_name_plural = "Получатели"

    def get_count(self, request, obj):
        return obj.recipients.count() if obj and obj.pk else 0

    def has_add_permission(self, request, obj=None):
        return obj is not None and obj.status in EDITABLE and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is not None and obj.status in EDITABLE and super().has_change_permission(request, obj)


def _dialog(title, description="", form_class=ConfirmDialogForm, submit="Подтвердить"):
    return {"title": title, "description": description, "form_class": form_class, "form_submit_text": submit}


@admin.register(Campaign)
class CampaignAdmin(OwnedAdminMixin, ModelAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "status_badge",
        "created_by",
        "progress",
        "failed_count",
        "unsubscribed_count",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("name", "subject")
    list_select_related = ("created_by",)
    inlines = (AttachmentInline, RecipientInline)
    readonly_fields = ("status", "created_by", "created_at", "updated_at", "preview")
    fieldsets = (
        ("Письмо", {"classes": ["tab"], "fields": ("name", "subject", "body_html", "body_text")}),
        ("Предпросмотр", {"classes": ["tab"], "fields": ("preview",)}),
        ("Служебное", {"classes": ["tab"], "fields": ("status", "created_by", "created_at", "updated_at")}),
    )
    change_form_before_template = "admin/mailer/campaign/progress.html"
    actions = ("start_selected", "pause_selected", "resume_selected", "retry_selected")
    actions_row = ("detail_start", "detail_pause", "detail_resume")  # the same dialogs on each row
    actions_detail = (
        "detail_start",
        "detail_pause",
        "detail_resume",
        "detail_test_email",
        "detail_retry_failed",
        "detail_add_recipients",
        "detail_from_companies",
    )

    # --- list ---------------------------------------------------------------------------

    def get_queryset(self, request):
        # Progress of every row in the page's one query, whatever the number of recipients.
        return (
            super()
            .get_queryset(request)
            .annotate(
                recipients_total=Count("recipients"),
                recipients_sent=Count("recipients", filter=Q(recipients__status=Recipient.SENT)),
                recipients_failed=Count("recipients", filter=Q(recipients__status=Recipient.FAILED)),
                recipients_unsubscribed=Count("recipients", filter=Q(recipients__status=Recipient.UNSUBSCRIBED)),
            )
        )

    def get_list_filter(self, request):
        return ("status", "created_by") if request.user.is_superuser else ("status",)

    @display(
        description="статус",
        label={
            "Черновик": "info",
            "В очереди": "warning",
            "Отправляется": "primary",
            "На паузе": "danger",
            "Отправлена": "success",
        },
    )
    def status_badge(self, obj):
        return obj.get_status_display()

    @display(description="отправлено")
    def progress(self, obj):
        return f"{obj.recipients_sent} / {obj.recipients_total}"

    @display(description="ошибки")
    def failed_count(self, obj):
        return obj.recipients_failed

    @display(description="отписаны")
    def unsubscribed_count(self, obj):
        return obj.recipients_unsubscribed

    # --- editor -------------------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE:
            # A campaign being sent keeps the text its recipients already got.
            return (*self.readonly_fields, "name", "subject", "body_html", "body_text")
        return self.readonly_fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The progress block says at once why the campaign waits; its script keeps it current.
        queue = CampaignQueue.objects.filter(campaign_id=object_id).first() if object_id.isdigit() else None
        extra_context = {**(extra_context or {}), "queue_reason": status.reason_text(queue, now=timezone.now())}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # A campaign in the sender's hands is paused first, then deleted.
        running = obj is not None and obj.status in (Status.READY, Status.SENDING)
        return not running and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # Bulk deletion would not ask each campaign whether it is being sent.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @display(description="письмо для первого получателя")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Появится после сохранения."
        try:
            rendered = CampaignTemplate(subject=obj.subject, body_html=obj.body_html, body_text=obj.body_text).render(
                sample_context(obj, email="", unsubscribe_url="#")
            )
        except CampaignTemplateError as exc:  # the page opens whatever the body; it says why
            return format_html('<div id="campaign-preview-error" class="text-red-600">{}</div>', str(exc))
        # The rendered HTML is a SafeString, which format_html would insert as it is: escape it
        # explicitly so it stays inside the attribute. An empty sandbox: no scripts, no forms,
        # no access to the admin's origin; the admin's Content-Security-Policy applies too.
        return format_html(
            '<div class="text-sm mb-2"><b>Тема:</b> {}</div>'
            '<iframe id="campaign-preview" sandbox="" srcdoc="{}" title="Предпросмотр письма" '
            'class="w-full bg-white rounded-default border border-base-200" style="min-height:320px">'
            "</iframe>",
            rendered.subject,
            escape(str(rendered.html)),
        )

    # --- which buttons a campaign shows -----------------------------------------------------
    # unfold asks has_<name>_permission(request, object_id) for detail actions; rows and the
    # list ask without an object, and the service still refuses with a reason.

    def _campaign_allows(self, request, object_id, check):
        if not self.has_change_permission(request, object_id):
            return False
        if object_id is None:
            return True
        campaign = self.get_object(request, str(object_id))
        return campaign is not None and check(campaign)

    def has_start_permission(self, request, object_id=None):
        return self._campaign_allows(request, object_id, lambda c: c.status in EDITABLE)

    def has_pause_permission(self, request, object_id=None):
        return self._campaign_allows(request, object_id, lambda c: c.status in (Status.READY, Status.SENDING))

    def has_resume_permission(self, request, object_id=None):
        return self._campaign_allows(request, object_id, lambda c: c.status != Status.DRAFT)

    def has_retry_permission(self, request, object_id=None):
        return self._campaign_allows(request, object_id, lambda c: c.status in (Status.SENDING, Status.PAUSED))

    def has_add_recipients_permission(self, request, object_id=None):
        return self._campaign_allows(request, object_id, lambda c: c.status in EDITABLE)

    # --- actions: one helper, many buttons ------------------------------------------------

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
                transaction.on_commit(tasks.send_pending_emails)
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

    def _start(self, request, campaign):
        return self._act(
            request,
            campaign,
            lambda: services.campaign_start(campaign=campaign, user=request.user),
            log="Запуск кампании",
            wakes_sender=True,
            success=lambda c: f"Кампания «{c.name}» поставлена в очередь на отправку.",
        )

    def _pause(self, request, campaign):
        return self._act(
            request,
            campaign,
            lambda: services.campaign_pause(campaign=campaign, user=request.user),
            log="Пауза кампании",
            success=lambda c: f"Кампания «{c.name}» на паузе.",
        )

    def _resume(self, request, campaign):
        return self._act(
            request,
            campaign,
            lambda: services.campaign_resume(campaign=campaign, user=request.user),
            log="Возобновление кампании",
            wakes_sender=True,
            success=lambda c: f"Кампания «{c.name}» возобновлена: отправка продолжится, как только позволят лимиты.",
        )

    def _retry(self, request, campaign):
        return self._act(
            request,
            campaign,
            lambda: services.campaign_retry_failed(campaign=campaign, user=request.user),
            log="Повтор неудачных",
            wakes_sender=True,
            success=lambda n: f"В очередь возвращено писем: {n}.",
        )

    def _bulk(self, request, queryset, step):
        for campaign in queryset:
            step(request, campaign)

    # list (bulk) actions: Django's own POST form with the selected rows

    @admin.action(description="Запустить выбранные", permissions=["change"])
    def start_selected(self, request, queryset):
        self._bulk(request, queryset, self._start)

    @admin.action(description="Поставить на паузу", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, self._pause)

    @admin.action(description="Возобновить", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._bulk(request, queryset, self._resume)

    @admin.action(description="Повторить неудачные", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._bulk(request, queryset, self._retry)

    # row and detail actions: a dialog posts the confirmation (no state change on GET);
    # afterwards the user is back on the page the dialog was opened from

    @action(
        description="Запустить",
        icon="play_arrow",
        permissions=["start"],
        url_path="start",
        variant=ActionVariant.PRIMARY,
        dialog=_dialog("Запустить кампанию?", "Письма уйдут в рабочее время в пределах лимитов.", submit="Запустить"),
    )
    def detail_start(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._start(request, campaign)
        return self._back(request, campaign)

    @action(
        description="Пауза",
        icon="pause",
        permissions=["pause"],
        url_path="pause",
        dialog=_dialog("Поставить кампанию на паузу?", submit="Пауза"),
    )
    def detail_pause(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._pause(request, campaign)
        return self._back(request, campaign)

    @action(
        description="Возобновить",
        icon="resume",
        permissions=["resume"],
        url_path="resume",
        dialog=_dialog(
            "Возобновить кампанию?",
            "Отложенная или остановленная кампания продолжит отправку; лимиты проверятся снова.",
            submit="Возобновить",
        ),
    )
    def detail_resume(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._resume(request, campaign)
        return self._back(request, campaign)

    @action(
        description="Тестовое письмо",
        icon="forward_to_inbox",
        permissions=["change"],
        url_path="test-email",
        dialog=_dialog(
            "Отправить тестовое письмо",
            "Письмо уйдёт сразу и учтётся в лимите писем в час.",
            form_class=TestEmailForm,
            submit="Отправить",
        ),
    )
    def detail_test_email(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        to = form.cleaned_data["to"]
        self._act(
            request,
            campaign,
            lambda: services.send_test_email(campaign=campaign, user=request.user, to=to),
            log="Тестовое письмо",
            success=lambda log: f"Тестовое письмо отправлено на {log.email}.",
        )
        return self._back(request, campaign)

    @action(
        description="Повторить неудачные",
        icon="replay",
        permissions=["retry"],
        url_path="retry-failed",
        dialog=_dialog(
            "Повторить неудачные письма?",
            "Вернутся в очередь письма с временными ошибками; адреса, которые сервер отклонил, не повторяются.",
            submit="Повторить",
        ),
    )
    def detail_retry_failed(self, request, form, object_id):
        campaign = self._campaign(request, object_id)
        self._retry(request, campaign)
        return self._back(request, campaign)

    @action(
        description="Добавить получателей",
        icon="person_add",
        permissions=["add_recipients"],
        url_path="add-recipients",
        dialog=_dialog("Добавить получателей", form_class=AddRecipientsForm, submit="Добавить"),
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
        permissions=["add_recipients"],
        url_path="from-companies",
        dialog=_dialog(
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
