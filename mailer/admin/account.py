"""Mail settings: superusers only; the SMTP password and the API key are write-only."""

from django import forms
from django.contrib import admin
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminPasswordWidget

from backoffice.admin_mixins import SuperuserOnlyMixin
from mailer.models import GlobalMailAccount, SmtpBzQuota
from mailer.stored_secrets import UnreadableSecret

SECRET_FIELDS = ("smtp_password", "smtp_bz_api_key")


class GlobalMailAccountForm(forms.ModelForm):
    """Secrets are never rendered back: an empty field keeps the stored value (encrypted at
    rest, mailer/stored_secrets.py); one the key cannot decrypt says so."""

    class Meta:
        model = GlobalMailAccount
        fields = (
            "is_enabled", "smtp_host", "smtp_port", "smtp_username", "smtp_password", "use_tls", "use_ssl",
            "from_email", "from_name", "reply_to", "per_user_daily_limit", "smtp_bz_api_key",
        )  # fmt: skip
        widgets = {name: UnfoldAdminPasswordWidget(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            field.required = False
            stored = getattr(self.instance, name) if self.instance.pk else ""
            if isinstance(stored, UnreadableSecret):
                field.help_text = f"{stored.refusal()} Пока поле пустое, сохранённое значение не меняется."
            elif stored:
                field.help_text = "Задан. Оставьте пустым, чтобы не менять."

    def _clean_secret(self, name):
        value = self.cleaned_data.get(name)
        return value or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_smtp_password(self):
        return self._clean_secret("smtp_password")

    def clean_smtp_bz_api_key(self):
        return self._clean_secret("smtp_bz_api_key")


@admin.register(GlobalMailAccount)
class GlobalMailAccountAdmin(SuperuserOnlyMixin, ModelAdmin):
    form = GlobalMailAccountForm
    list_display = ("__str__", "is_enabled", "from_email", "per_user_daily_limit", "updated_at")
    fieldsets = (
        (None, {"fields": ("is_enabled",)}),
        ("SMTP", {"fields": ("smtp_host", "smtp_port", "smtp_username", "smtp_password", "use_tls", "use_ssl")}),
        ("Отправитель", {"fields": ("from_email", "from_name", "reply_to")}),
        ("Лимиты и провайдер", {"fields": ("per_user_daily_limit", "smtp_bz_api_key")}),
    )

    def has_add_permission(self, request):
        return request.user.is_superuser and not GlobalMailAccount.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """There is one account: go straight to it."""
        from django.shortcuts import redirect
        from django.urls import reverse

        account = GlobalMailAccount.load()
        return redirect(reverse("admin:mailer_globalmailaccount_change", args=[account.pk]))


@admin.register(SmtpBzQuota)
class SmtpBzQuotaAdmin(SuperuserOnlyMixin, ModelAdmin):
    list_display = ("emails_available", "emails_limit", "last_synced_at", "sync_error")
    # emails_available stays editable: operators correct it by hand between syncs.
    readonly_fields = ("emails_limit", "last_synced_at", "sync_error", "raw_payload")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
