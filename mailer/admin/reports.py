"""Campaign reports: what happened after sending (from smtp.bz's message log) — counts and
rates, a chart over time, the bounces with their reasons, and an export.

A screen of its own on the CampaignReport proxy: the list shows each campaign's figures, a
row opens the report. Managers see their own campaigns only (OwnedAdminMixin); seeing a
campaign is the permission (`mailer.view_campaign`).
"""

import json

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.formats.base_formats import CSV, XLSX
from tablib import Dataset
from unfold.admin import ModelAdmin

from backoffice.admin_mixins import ReadOnlyAdminMixin
from mailer import delivery_report
from mailer.admin.base import OwnedAdminMixin, RowCountsMixin
from mailer.delivery_models import CampaignReport
from mailer.engine import policy
from mailer.spreadsheets.formats import neutralised

EXPORTS = {
    "xlsx": (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": (CSV, "text/csv"),
}


def _share(part, whole):
    """«3 (75,0 %)»: a count and its share of `whole`."""
    return f"{part} ({100 * part / whole:.1f} %)".replace(".", ",") if whole else f"{part} (—)"


@admin.register(CampaignReport)
class CampaignReportAdmin(RowCountsMixin, ReadOnlyAdminMixin, OwnedAdminMixin, ModelAdmin):
    list_display = ("name", "status", "created_by", "sent", "delivered", "bounced", "opened", "report_link")
    list_display_links = None
    list_filter = ("status",)
    search_fields = ("name",)
    list_select_related = ("created_by",)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("mailer.view_campaign")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_changelist_instance(self, request):
        # The page's rows only: sent from the kept counts (RowCountsMixin), the rest from
        # their delivery rows in one query.
        changelist = super().get_changelist_instance(request)
        deliveries = delivery_report.delivery_counts(row.pk for row in changelist.result_list)
        for row in changelist.result_list:
            row.delivery_counts = deliveries[row.pk]
        return changelist

    @admin.display(description="отправлено")
    def sent(self, obj):
        return obj.recipient_counts.sent

    @admin.display(description="доставлено")
    def delivered(self, obj):
        return _share(obj.delivery_counts["delivered"], obj.recipient_counts.sent)

    @admin.display(description="отказы")
    def bounced(self, obj):
        return _share(obj.delivery_counts["bounced"], obj.recipient_counts.sent)

    @admin.display(description="открыто")
    def opened(self, obj):
        return _share(obj.delivery_counts["opened"], obj.delivery_counts["delivered"])

    @admin.display(description="отчёт")
    def report_link(self, obj):
        return format_html('<a class="text-primary-600" href="{}">Открыть отчёт</a>', self._url("report", obj.pk))

    # --- the report and its export ----------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/report/", view(self.report_view), name="mailer_campaignreport_report"),
            path("<int:object_id>/report/<str:fmt>/", view(self.export_view), name="mailer_campaignreport_export"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect(self._url("report", object_id))

    def report_view(self, request, object_id):
        campaign = self._campaign(request, object_id)
        report = delivery_report.campaign_report(campaign)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Отчёт: {campaign.name}",
            "opts": self.model._meta,
            "campaign": campaign,
            "report": report,
            "chart": json.dumps(report.chart, ensure_ascii=False),
            "chart_options": json.dumps(delivery_report.CHART_OPTIONS),
            "chart_title": f"По времени ({policy.zone_label()})",
            "exports": {fmt: self._url("export", campaign.pk, fmt) for fmt in EXPORTS},
        }
        return TemplateResponse(request, "admin/mailer/campaign_report.html", context)

    def export_view(self, request, object_id, fmt):
        if fmt not in EXPORTS:
            raise Http404
        campaign = self._campaign(request, object_id)
        dataset = Dataset(headers=delivery_report.EXPORT_HEADERS)
        for row in delivery_report.export_rows(campaign):
            dataset.append(row)
        file_format, content_type = EXPORTS[fmt]
        response = HttpResponse(file_format().export_data(neutralised(dataset)), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.{fmt}"'
        return response

    def _campaign(self, request, object_id):
        # Through the scoped queryset: another manager's campaign is a 404, not a report.
        campaign = self.get_queryset(request).filter(pk=object_id).first()
        if campaign is None or not self.has_view_permission(request, campaign):
            raise Http404("Кампания не найдена.")
        return campaign

    def _url(self, name, *args):
        return reverse(f"admin:mailer_campaignreport_{name}", args=args)
