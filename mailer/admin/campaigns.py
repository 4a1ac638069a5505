from django.contrib import admin
from unfold.admin import ModelAdmin

from ..models import Campaign
from .base import OwnedAdminMixin


@admin.register(Campaign)
class CampaignAdmin(OwnedAdminMixin, ModelAdmin):
    list_display = ("name", "status", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "subject")
