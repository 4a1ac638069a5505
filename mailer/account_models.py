"""The sending account and the provider's quota: settings rows, one family apart from the
campaigns (models.py imports them, so `mailer.models.GlobalMailAccount` still names them)."""

from django.core.exceptions import ValidationError
from django.db import models

from mailer.stored_secrets import EncryptedField


class GlobalMailAccount(models.Model):
    """The one SMTP account every campaign sends through (a singleton row, pk=1)."""

    is_enabled = models.BooleanField("отправка включена", default=False)
    smtp_host = models.CharField("SMTP-сервер", max_length=255, default="connect.smtp.bz")
    smtp_port = models.PositiveIntegerField("порт", default=587)
    smtp_username = models.CharField("логин", max_length=255, blank=True)
    smtp_password = EncryptedField("пароль", max_length=255, blank=True)  # encrypted at rest
    use_tls = models.BooleanField("STARTTLS", default=True)
    use_ssl = models.BooleanField("SSL", default=False)
    from_email = models.CharField("адрес отправителя", max_length=254, default="noreply@example.com")
    from_name = models.CharField("имя отправителя", max_length=255, blank=True)
    reply_to = models.CharField("адрес для ответа", max_length=254, blank=True)
    per_user_daily_limit = models.PositiveIntegerField(
        "дневной лимит на менеджера", default=500, help_text="0 — без лимита"
    )
    smtp_bz_api_key = EncryptedField("API-ключ smtp.bz", max_length=255, blank=True)  # encrypted at rest
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "почтовый аккаунт"
        verbose_name_plural = "настройки почты"

    def __str__(self):
        return f"{self.smtp_host}:{self.smtp_port}"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self):
        if self.use_tls and self.use_ssl:
            raise ValidationError("Выберите что-то одно: STARTTLS или SSL.")

    @classmethod
    def load(cls):
        account, _ = cls.objects.get_or_create(pk=1)
        return account


class SmtpBzQuota(models.Model):
    """The provider's monthly quota as last synced; the newest row is current."""

    emails_limit = models.PositiveIntegerField("лимит в месяц", default=0)
    emails_available = models.IntegerField("осталось писем", default=0)
    last_synced_at = models.DateTimeField("последняя синхронизация", null=True, blank=True)
    sync_error = models.TextField("ошибка синхронизации", blank=True)
    raw_payload = models.JSONField("ответ API", default=dict, blank=True)

    class Meta:
        verbose_name = "квота smtp.bz"
        verbose_name_plural = "квота smtp.bz"

    def __str__(self):
        return f"{self.emails_available} / {self.emails_limit}"

    @classmethod
    def current(cls):
        return cls.objects.order_by("-id").first()
