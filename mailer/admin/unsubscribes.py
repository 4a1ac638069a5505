"""The suppression list: search, manual add, XLSX/CSV import and export.

Managers may view and add; only a superuser may remove an address (Django's LogEntry
records who did). Rows are never edited: a wrong address is removed and added again.
"""

import logging

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.timezone import localtime
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ExportForm

from backoffice.admin_mixins import BigListMixin, DayRangeFilter
from mailer.addresses import is_valid_email, normalize_email
from mailer.admin.spreadsheet_io import Imported, SpreadsheetAdminMixin
from mailer.models import Unsubscribe
from mailer.pii import email_log_fields
from mailer.smtp_bz import suppression as provider_suppression
from mailer.spreadsheets.unsubscribes import UnsubscribeResource, import_unsubscribes, preview_unsubscribes
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
        self.removed(request, [obj.email])

    def delete_queryset(self, request, queryset):
        emails = list(queryset.values_list("email", flat=True))
        super().delete_queryset(request, queryset)
        self.removed(request, emails)

    def removed(self, request, emails):
        _log_removed(emails, request.user)
        # Off smtp.bz's list too, or its next import would bring the address back.
        error = provider_suppression.remove_at_provider(emails)
        if error:
            text = f"В списке smtp.bz адрес остался ({error}): удалите его в кабинете smtp.bz."
            self.message_user(request, text, level="warning")

    def init_request_context_data(self, request, form):
        # The resource shows only the address as what an import reads; an export writes all.
        context = super().init_request_context_data(request, form)
        resources = self.get_export_resource_classes(request)
        context["fields_list"] = [(r.get_display_name(), r().get_export_headers()) for r in resources]
        return context

    # --- import ---------------------------------------------------------------------------

    import_columns_help = (
        "В первой строке — названия колонок; нужна одна, с адресами: «email», «E-mail адрес», «Почта»… "
        "Остальные колонки не читаются. Адреса, которые уже в списке, и повторы пропускаются; "
        "ожидающие отправки письма на добавленные адреса не уйдут."
    )

    def preview_import(self, request, form, table):
        return preview_unsubscribes(table)

    def run_import(self, request, form, table):
        scan, done = import_unsubscribes(table, user=request.user)
        file_name = form.cleaned_data["original_file_name"]
        parts = [f"добавлено адресов — {done.added}"]
        if done.listed or scan.repeats:
            parts.append(f"уже были в списке или повторялись в файле — {done.listed + scan.repeats}")
        if done.recipients_marked:
            parts.append(f"ожидавших отправки писем отменено — {done.recipients_marked}")
        summary = "; ".join(parts)
        return Imported(
            message=f"Импорт завершён: {summary}.",
            warning=f"Некорректные строки пропущены: {scan.bad_text()}." if scan.bad else "",
            audited=None,
            audit_text=f"Импорт в список отписок из файла «{file_name}»: {summary}; "
            f"строк с ошибками — {len(scan.bad)}.",
            next_url=reverse("admin:mailer_unsubscribe_changelist"),
        )


def _log_removed(emails, user):
    for email in emails:
        logger.info("Address removed from the suppression list", extra={**email_log_fields(email), "user_id": user.pk})
