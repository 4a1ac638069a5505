"""Campaigns: the list, the editor with its preview, attachments and recipients.

The actions (buttons, row menus, bulk actions) are in campaign_actions.py; what each button
shows by is the campaign's own predicate (Campaign.can_start, …), as the services check it.
"""

from django.contrib import admin
from django.utils import timezone
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display
from unfold.forms import PaginationInlineFormSet

from backoffice.admin_mixins import RowCheckboxMixin
from mailer import selectors
from mailer.admin.base import OwnedAdminMixin, RowCountsMixin
from mailer.admin.campaign_actions import CampaignActionsMixin
from mailer.admin.campaign_dialogs import retry_notes
from mailer.admin.campaign_planning import CampaignPlanningMixin
from mailer.admin.campaign_preview import render_preview
from mailer.admin.forms import AttachmentForm, CampaignForm, RecipientForm
from mailer.campaign_status import campaign_status_text
from mailer.models import Campaign, CampaignAttachment, CampaignQueue, CampaignRecipient


class AttachmentInline(TabularInline):
    model = CampaignAttachment
    form = AttachmentForm
    extra = 0
    verbose_name_plural = "Вложения"

    # Attachments go out with the text: they change while the text may (a new campaign too).

    def has_add_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)


class CountedPagesFormSet(PaginationInlineFormSet):
    """unfold's paginated formset, its number of rows taken from the inline's count (the
    kept counters) instead of a COUNT(*) over the campaign's recipients."""

    def get_page(self, paginator, page):
        if self.count is not None:
            paginator.count = self.count  # a cached_property: set, it is never computed
        return super().get_page(paginator, page)


class RecipientInline(TabularInline):
    model = CampaignRecipient
    formset = CountedPagesFormSet
    form = RecipientForm
    fields = ("email", "name", "status", "error_kind", "last_error", "sent_at")
    readonly_fields = ("status", "error_kind", "last_error", "sent_at")
    extra = 0
    per_page = 25
    tab = True
    show_count = True
    verbose_name_plural = "Получатели"

    def get_count(self, request, obj):
        return selectors.recipient_counts([obj.pk])[obj.pk].total if obj and obj.pk else 0

    def has_add_permission(self, request, obj=None):
        return obj is not None and obj.can_add_recipients and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is not None and obj.is_editable and super().has_change_permission(request, obj)


@admin.register(Campaign)
class CampaignAdmin(
    CampaignPlanningMixin, CampaignActionsMixin, RowCountsMixin, RowCheckboxMixin, OwnedAdminMixin, ModelAdmin
):
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
    inlines = (AttachmentInline, RecipientInline)
    readonly_fields = ("status", "created_by", "created_at", "updated_at", "preview")
    fieldsets = (
        ("Письмо", {"classes": ["tab"], "fields": ("name", "subject", "body_html", "body_text")}),
        ("Предпросмотр", {"classes": ["tab"], "fields": ("preview",)}),
        ("Служебное", {"classes": ["tab"], "fields": ("status", "created_by", "created_at", "updated_at")}),
    )
    change_form_before_template = "admin/mailer/campaign/progress.html"
    # --- list ---------------------------------------------------------------------------

    def get_queryset(self, request):
        # The queue comes along for the predicates of the buttons (a select_related here
        # replaces list_select_related).
        return super().get_queryset(request).select_related("queue", "created_by")

    def get_list_filter(self, request):
        return ("status", "created_by") if request.user.is_superuser else ("status",)

    @display(
        description="статус",
        label={
            Campaign.Status.DRAFT: "info",
            Campaign.Status.READY: "warning",
            "scheduled": "warning",
            Campaign.Status.SENDING: "primary",
            "finished_with_errors": "danger",
            Campaign.Status.PAUSED: "danger",
            Campaign.Status.SENT: "success",
        },
    )
    def status_badge(self, obj):
        return campaign_status_text(obj, failed=obj.recipient_counts.failed)

    @display(description="отправлено")
    def progress(self, obj):
        return f"{obj.recipient_counts.sent} / {obj.recipient_counts.total}"

    @display(description="ошибки")
    def failed_count(self, obj):
        return obj.recipient_counts.failed

    @display(description="отписаны")
    def unsubscribed_count(self, obj):
        return obj.recipient_counts.unsubscribed

    # --- editor -------------------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            # A campaign being sent keeps the text its recipients already got.
            return (*self.readonly_fields, "name", "subject", "body_html", "body_text")
        return self.readonly_fields

    def get_object(self, request, object_id, from_field=None):
        """One fetch of a campaign per request, whatever asks for it: the page, each button's
        predicate, the permission checks."""
        fetched = request.__dict__.setdefault("_mailer_campaigns", {})
        key = (str(object_id), from_field)
        if key not in fetched:
            fetched[key] = super().get_object(request, str(object_id), from_field)
        return fetched[key]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The progress block says at once why the campaign waits; its script keeps it current.
        campaign = self.get_object(request, object_id)
        queue = campaign.current_queue if campaign is not None else None
        if campaign is not None:  # the same object the preview field gets (one fetch a request)
            campaign.preview_as = request.GET.get("preview_as", "")[:254]
        extra_context = {
            **(extra_context or {}),
            "queue_reason": selectors.reason_text(queue, now=timezone.now()),
            "retry_notes": retry_notes(campaign) if campaign is not None and campaign.can_retry_failed else [],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.can_delete) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The queue row is a part of its campaign that nobody deletes on its own (its screen
        # allows no deletion): it must not stop the campaign's deletion.
        perms_needed.discard(CampaignQueue._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def get_actions(self, request):
        # Bulk deletion would not ask each campaign whether it is being sent.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @display(description="письмо")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Появится после сохранения."
        return render_preview(obj, preview_as=getattr(obj, "preview_as", ""))
