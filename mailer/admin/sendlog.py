from django.contrib import admin
from unfold.admin import ModelAdmin

from backoffice.admin_mixins import BigListMixin, DayRangeFilter, ReadOnlyAdminMixin
from mailer.admin.base import IndexedSearchMixin, OwnedAdminMixin
from mailer.models import SendLog


@admin.register(SendLog)
class SendLogAdmin(BigListMixin, IndexedSearchMixin, ReadOnlyAdminMixin, OwnedAdminMixin, ModelAdmin):
    owner_lookup = "campaign__created_by"
    list_display = ("created_at", "kind", "status", "email", "campaign", "smtp_message_id", "took_ms", "error")
    # A range of dates rather than date_hierarchy, whose year/month links cost a scan of the log.
    list_filter = ("kind", "status", ("created_at", DayRangeFilter))
    list_filter_submit = True
    search_fields = ("email",)
    search_exact_fields = ("smtp_message_id",)
    search_help_text = (
        "Адрес e-mail целиком — точно этот адрес; часть адреса или название кампании — по вхождению; "
        "Message-ID — только целиком."
    )
    list_select_related = ("campaign",)
