"""The queue: what waits, why, and until when."""

from django.contrib import admin
from django.utils import timezone
from unfold.admin import ModelAdmin
from unfold.decorators import display

from backoffice.admin_mixins import RowCheckboxMixin
from mailer.admin.base import OwnedAdminMixin, RowCountsMixin
from mailer.models import CampaignQueue
from mailer.selectors import reason_text


@admin.register(CampaignQueue)
class CampaignQueueAdmin(RowCountsMixin, RowCheckboxMixin, OwnedAdminMixin, ModelAdmin):
    owner_lookup = "campaign__created_by"
    list_display = (
        "campaign",
        "status_badge",
        "reason",
        "deferred_until",
        "progress",
        "consecutive_transient_errors",
        "priority",
        "queued_at",
    )
    list_filter = ("status", "defer_reason", "pause_reason")
    list_select_related = ("campaign",)
    search_fields = ("campaign__name",)
    fields = (
        "campaign",
        "status",
        "priority",
        "defer_reason",
        "deferred_until",
        "queued_at",
        "started_at",
        "heartbeat_at",
        "completed_at",
        "consecutive_transient_errors",
        "pause_reason",
        "pause_detail",
    )

    def row_campaign_id(self, row):
        return row.campaign_id

    def get_readonly_fields(self, request, obj=None):
        editable = {"priority"} if request.user.is_superuser else set()
        return [name for name in self.fields if name not in editable]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(
        description="статус",
        label={"Отправляется": "info", "Ожидает": "warning", "На паузе": "danger", "Завершена": "success"},
    )
    def status_badge(self, obj):
        return obj.get_status_display()

    @display(description="причина")
    def reason(self, obj):
        return reason_text(obj, now=timezone.now()) or "—"

    @display(description="прогресс")
    def progress(self, obj):
        return f"{obj.recipient_counts.done} / {obj.recipient_counts.total}"
