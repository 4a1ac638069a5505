"""Recipients: the list, XLSX/CSV import into a chosen campaign, export with statuses."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RelatedDropdownFilter
from unfold.contrib.import_export.forms import ExportForm
from unfold.widgets import UnfoldAdminSelectWidget

from backoffice.admin_mixins import BigListMixin
from mailer import transitions
from mailer.admin.base import IndexedSearchMixin, OwnedAdminMixin
from mailer.admin.forms import RecipientForm
from mailer.admin.spreadsheet_io import BoundedImportForm, Imported, IssuedUploadConfirmForm, SpreadsheetAdminMixin
from mailer.models import Campaign, CampaignRecipient
from mailer.spreadsheets.recipients import RecipientResource, import_recipients, preview_recipients
from mailer.suppression import suppressed_among

IMPORT_COLUMNS = (
    "В первой строке — названия колонок. Обязательна колонка с адресами: «email», «E-mail адрес», "
    "«Почта», «Адрес эл. почты»… Колонка «Имя» («ФИО») — имя получателя; любая другая колонка "
    "становится переменной шаблона («Компания» — {{ company }}, «Город» — {{ город }}). "
    "Повторы и адреса, которые уже есть в кампании, пропускаются; отписавшиеся добавятся отмеченными."
)


def _campaigns_for(user, *, editable_only):
    campaigns = Campaign.objects.visible_to(user)
    return campaigns.editable() if editable_only else campaigns


class RecipientImportForm(BoundedImportForm):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        label="Кампания",
        help_text="Черновик или кампания на паузе.",
        widget=UnfoldAdminSelectWidget,
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = _campaigns_for(user, editable_only=True)
        self.fields["import_file"].label = "Файл"
        self.fields["format"].label = "Формат файла"


class RecipientConfirmImportForm(IssuedUploadConfirmForm):
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.all(), widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["campaign"].queryset = _campaigns_for(user, editable_only=True)


class CampaignFilter(RelatedDropdownFilter):
    """Managers pick among their own campaigns only."""

    def field_choices(self, field, request, model_admin):
        return [(c.pk, str(c)) for c in _campaigns_for(request.user, editable_only=False)]


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(
    BigListMixin, IndexedSearchMixin, OwnedAdminMixin, SpreadsheetAdminMixin, ModelAdmin, ImportExportModelAdmin
):
    owner_lookup = "campaign__created_by"
    resource_classes = (RecipientResource,)
    import_form_class = RecipientImportForm
    confirm_form_class = RecipientConfirmImportForm
    export_form_class = ExportForm
    list_display = ("email", "name", "campaign", "status", "error_kind", "attempts", "sent_at", "last_error")
    list_filter = (("campaign", CampaignFilter), "status", "error_kind")
    list_filter_submit = True
    search_fields = ("email", "name")  # and the campaign's name (IndexedSearchMixin)
    search_help_text = (
        "Адрес e-mail целиком — точно этот адрес; часть адреса, имя получателя или название кампании — по вхождению."
    )
    list_select_related = ("campaign",)  # each row's campaign decides whether it may change
    readonly_fields = (
        "status",
        "error_kind",
        "attempts",
        "last_error",
        "claimed_at",
        "sent_at",
        "smtp_message_id",
        "created_at",
    )
    fields = ("campaign", "email", "name", "variables", *readonly_fields)
    form = RecipientForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "campaign" in form.base_fields:  # absent from a read-only recipient's form
            form.base_fields["campaign"].queryset = _campaigns_for(request.user, editable_only=True)
        return form

    def has_change_permission(self, request, obj=None):
        # As on the campaign's own recipients tab: only while the campaign may change.
        if not super().has_change_permission(request, obj):
            return False
        recipient = self.get_object(request, str(obj)) if isinstance(obj, str | int) else obj
        return recipient is None or recipient.campaign.is_editable

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and suppressed_among([obj.email]):
            transitions.mark_unsubscribed(campaign_id=obj.campaign_id, emails=[obj.email])
            obj.refresh_from_db(fields=["status"])

    # --- import ---------------------------------------------------------------------------

    import_columns_help = IMPORT_COLUMNS

    def get_import_form_kwargs(self, request):
        return {**super().get_import_form_kwargs(request), "user": request.user}

    def get_import_form_initial(self, request):
        # Opened from a campaign's page («Импорт из файла»): that campaign is chosen already.
        return {**super().get_import_form_initial(request), "campaign": request.GET.get("campaign")}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["campaign"] = import_form.cleaned_data["campaign"].pk
        return initial

    def preview_import(self, request, form, table):
        return preview_recipients(table, campaign=form.cleaned_data["campaign"])

    def run_import(self, request, form, table):
        campaign = form.cleaned_data["campaign"]
        scan, added = import_recipients(table, campaign=campaign)
        file_name = form.cleaned_data["original_file_name"]
        return Imported(
            message=f"Импорт из файла «{file_name}» завершён. {added.summary()}",
            warning=f"Строки с ошибками не импортированы: {scan.bad_text()}." if scan.bad else "",
            audited=campaign,
            audit_text=f"Импорт получателей из файла «{file_name}»: {added.summary().lower()} "
            f"Строк с ошибками: {len(scan.bad)}.",
            next_url=reverse("admin:mailer_campaign_change", args=[campaign.pk]),
        )

    def import_cancel_url(self, request, form):
        return reverse("admin:mailer_campaign_change", args=[form.cleaned_data["campaign"].pk])
