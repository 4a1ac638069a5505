from django.contrib import admin
from unfold.admin import ModelAdmin

from backoffice.admin_mixins import ReadOnlyAdminMixin
from mailer.admin.base import OwnedAdminMixin
from mailer.models import SendLog


@admin.register(SendLog)
class SendLogAdmin(ReadOnlyAdminMixin, OwnedAdminMixin, ModelAdmin):
    owner_lookup = "campaign__created_by"
    list_display = ("created_at", "kind", "status", "email", "campaign", "smtp_message_id", "took_ms", "error")
    list_filter = ("kind", "status", "created_at")
    search_fields = ("email", "smtp_message_id", "campaign__name")
    list_select_related = ("campaign",)
    date_hierarchy = "created_at"
