from django.contrib import admin
from unfold.admin import ModelAdmin

from ..models import CampaignRecipient
from .base import OwnedAdminMixin


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(OwnedAdminMixin, ModelAdmin):
    owner_lookup = "campaign__created_by"
    list_display = ("email", "name", "campaign", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "error_kind")
    search_fields = ("email", "name", "campaign__name")
    list_select_related = ("campaign",)
