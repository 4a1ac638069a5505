"""CRM screens: companies and contacts, notifications, the audit log, users, login attempts."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Count
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import AutocompleteSelectFilter, RangeDateFilter, RelatedDropdownFilter
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldBooleanSwitchWidget

from backoffice.admin_mixins import BigListMixin, ReadOnlyAdminMixin, SuperuserOnlyMixin
from backoffice.models import Company, Contact, Notification
from backoffice.permissions import MANAGER_GROUP

admin.site.site_title = admin.site.site_header = "CRM-рассылки"
admin.site.index_title = "Главная"
admin.site.unregister(User)
admin.site.unregister(Group)


class NewUserForm(UserCreationForm):
    """One screen for a new colleague: name, e-mail, password, and whether they are a
    manager (staff in the «Менеджер» group), instead of a second screen with a group picker."""

    class Meta(UserCreationForm.Meta):
        fields = ("username", "first_name", "last_name", "email")

    is_manager = forms.BooleanField(
        label="Менеджер",
        required=False,
        initial=True,
        widget=UnfoldBooleanSwitchWidget,
        help_text="Входит в админку, ведёт свои кампании, видит компании и контакты.",
    )

    def save(self, commit=True):
        self.instance.is_staff = self.instance.is_staff or self.cleaned_data["is_manager"]
        return super().save(commit)

    def _save_m2m(self):
        # The admin saves the user first, then calls this: the group needs the user's id.
        super()._save_m2m()
        if self.cleaned_data["is_manager"]:
            self.instance.groups.add(Group.objects.get_or_create(name=MANAGER_GROUP)[0])


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = NewUserForm
    change_password_form = AdminPasswordChangeForm
    add_fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "is_manager", "password1", "password2")}),
    )


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


# --- companies ----------------------------------------------------------------------------


class ContactInline(TabularInline):
    model = Contact
    extra = 0
    fields = ("full_name", "position", "email", "phone")


@admin.register(Company)
class CompanyAdmin(ModelAdmin):
    list_display = ("name", "email", "city", "industry", "manager", "contacts_count")
    search_fields = ("name", "email", "inn", "contacts__email", "contacts__full_name")
    list_filter = ("city", "industry", ("manager", RelatedDropdownFilter))
    list_filter_submit = True
    inlines = (ContactInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(contacts_total=Count("contacts")).select_related("manager")

    @display(description="контактов")
    def contacts_count(self, obj):
        return obj.contacts_total


@admin.register(Contact)
class ContactAdmin(ModelAdmin):
    list_display = ("full_name", "email", "company", "position", "phone")
    search_fields = ("full_name", "email", "company__name")
    list_filter = (("company", AutocompleteSelectFilter),)  # a search, not 5 000 companies in the page
    list_filter_submit = True
    list_select_related = ("company",)


# --- notifications ----------------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(BigListMixin, ModelAdmin):
    """Each user sees their own notifications; opening one marks it read."""

    list_display = ("title", "text", "created_at", "read_badge")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    readonly_fields = ("kind", "title", "text", "link_to", "created_at", "read_at")
    fields = readonly_fields
    actions = ("mark_read",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user=request.user)

    def has_add_permission(self, request):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self.get_queryset(request).filter(pk=object_id, read_at__isnull=True).update(read_at=timezone.now())
        return super().change_view(request, object_id, form_url, extra_context)

    @display(description="прочитано", label={"Новое": "warning", "Прочитано": "success"})
    def read_badge(self, obj):
        return "Прочитано" if obj.read_at else "Новое"

    @display(description="ссылка")
    def link_to(self, obj):
        return format_html('<a class="text-primary-600" href="{}">Открыть</a>', obj.link) if obj.link else "—"

    @admin.action(description="Отметить прочитанными", permissions=["view"])
    def mark_read(self, request, queryset):
        count = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        messages.success(request, f"Отмечено прочитанными: {count}.")


# --- audit log -------------------------------------------------------------------------------------


@admin.register(LogEntry)
class LogEntryAdmin(BigListMixin, ReadOnlyAdminMixin, ModelAdmin):
    """«Журнал действий»: who created, changed, deleted or ran what. Read-only."""

    list_display = ("action_time", "user", "action_badge", "content_type", "object_repr", "message")
    list_filter = (("user", RelatedDropdownFilter), "action_flag", ("action_time", RangeDateFilter), "content_type")
    list_filter_submit = True
    search_fields = ("object_repr", "change_message", "user__username")
    list_select_related = ("user", "content_type")
    date_hierarchy = "action_time"

    @display(description="действие", label={"Создание": "success", "Изменение": "info", "Удаление": "danger"})
    def action_badge(self, obj):
        return {1: "Создание", 2: "Изменение", 3: "Удаление"}[obj.action_flag]

    @display(description="описание")
    def message(self, obj):
        return obj.get_change_message()


# --- login attempts (django-axes): they name people and addresses, superusers only ------------


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, ModelAdmin):
    """«Попытки входа»: every failed login, the one that locked the door marked."""

    list_display = ("attempt_time", "username", "ip_address", "locked_badge", "user_agent")
    list_filter = ("locked_out", ("attempt_time", RangeDateFilter))
    list_filter_submit = True
    search_fields = ("username", "ip_address")

    @display(description="блокировка", label={"Вход закрыт": "danger", "—": "info"})
    def locked_badge(self, obj):
        return "Вход закрыт" if obj.locked_out else "—"


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, ModelAdmin):
    """Failures counted now, per username, IP and browser; deleting a row lifts its lock."""

    list_display = ("attempt_time", "username", "ip_address", "failures_since_start", "user_agent")
    search_fields = ("username", "ip_address")

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, ModelAdmin):
    """Successful logins and logouts."""

    list_display = ("attempt_time", "username", "ip_address", "logout_time", "user_agent")
    list_filter = (("attempt_time", RangeDateFilter),)
    list_filter_submit = True
    search_fields = ("username", "ip_address")
