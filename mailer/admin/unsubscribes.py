"""The suppression list: search, manual add, XLSX/CSV import and export.

Managers may view and add; only a superuser may remove an address (Django's LogEntry
records who did). Rows are never edited: a wrong address is removed and added again.
"""

import logging

from django import forms
from django.contrib import admin, messages
from django.utils.timezone import localtime
from import_export.admin import ImportExportModelAdmin
from import_export.results import RowResult
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ExportForm

from backoffice.admin_mixins import BigListMixin, DayRangeFilter
from mailer.addresses import is_valid_email, normalize_email
from mailer.admin.spreadsheet_io import SpreadsheetAdminMixin
from mailer.models import Unsubscribe
from mailer.pii import email_log_fields
from mailer.spreadsheets.unsubscribes import UnsubscribeResource
from mailer.suppression import suppress

logger = logging.getLogger(__name__)

Source = Unsubscribe.Source
# Who put a row there when no staff member did.
ADDED_WITHOUT_STAFF = {
    Source.LINK: "получатель",
    Source.ONE_CLICK: "получатель",
    Source.BOUNCE: "почтовый сервер",
    Source.PROVIDER: "smtp.bz",
}


class UnsubscribeForm(forms.ModelForm):
    class Meta:
        model = Unsubscribe
        fields = ("email",)

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if not is_valid_email(email):
            raise forms.ValidationError("Некорректный адрес e-mail.")
        existing = Unsubscribe.objects.filter(email=email).first()
        if existing:
            raise forms.ValidationError(
                f"Адрес {email} уже в списке отписок: добавлен {localtime(existing.created_at):%d.%m.%Y}, "
                f"источник — «{existing.get_source_display()}»."
            )
        return email


@admin.register(Unsubscribe)
class UnsubscribeAdmin(BigListMixin, SpreadsheetAdminMixin, ModelAdmin, ImportExportModelAdmin):
    form = UnsubscribeForm
    resource_classes = [UnsubscribeResource]
    export_form_class = ExportForm
    list_display = ("email", "source", "campaign", "added_by", "created_at")
    list_filter = ("source", ("created_at", DayRangeFilter))
    list_filter_submit = True
    search_fields = ("email",)
    search_help_text = "Поиск по адресу e-mail"
    list_select_related = ("campaign", "created_by")
    view_fields = ("email", "source", "campaign", "created_by", "created_at")

    @admin.display(description="добавил", ordering="created_by__username")
    def added_by(self, obj):
        if obj.created_by:
            return obj.created_by.get_full_name() or obj.created_by.get_username()
        return ADDED_WITHOUT_STAFF.get(obj.source, "—")

    def get_fields(self, request, obj=None):
        return ("email",) if obj is None else self.view_fields

    # --- permissions ----------------------------------------------------------------------

    def has_change_permission(self, request, obj=None):
        return False  # rows are facts: remove and add again instead of editing

    def has_delete_permission(self, request, obj=None):
        # Taking an address off the list lets mail reach someone who asked for none.
        return request.user.is_active and request.user.is_superuser

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    # --- writes ---------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        # Through suppress(), so the address's waiting recipients are marked at once.
        entry, _ = suppress(obj.email, source=Source.MANUAL, user=request.user)
        obj.pk = entry.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _log_removed([obj.email], request.user)

    def delete_queryset(self, request, queryset):
        emails = list(queryset.values_list("email", flat=True))
        super().delete_queryset(request, queryset)
        _log_removed(emails, request.user)

    def init_request_context_data(self, request, form):
        # The resource shows only the address as what an import reads; an export writes all.
        context = super().init_request_context_data(request, form)
        resources = self.get_export_resource_classes(request)
        context["fields_list"] = [(r.get_display_name(), r().get_export_headers()) for r in resources]
        return context

    # --- import report --------------------------------------------------------------------

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        result = getattr(response, "context_data", {}).get("result")
        if result is not None and not result.has_errors():
            _warn_invalid_rows(request, result.report)
        return response

    def add_success_message(self, result, request):
        report = result.report
        parts = [f"Импорт завершён: добавлено адресов — {result.totals[RowResult.IMPORT_TYPE_NEW]}"]
        if report.duplicates:
            parts.append(f"уже были в списке или повторялись в файле — {report.duplicates}")
        messages.success(request, "; ".join(parts) + ".")
        _warn_invalid_rows(request, report)


def _warn_invalid_rows(request, report):
    if report.invalid:
        messages.warning(request, f"Некорректные адреса пропущены: {report.invalid_text()}.")


def _log_removed(emails, user):
    for email in emails:
        logger.info("Address removed from the suppression list", extra={**email_log_fields(email), "user_id": user.pk})
