"""What happened to a message after the SMTP hand-over, as the provider's log reports it.

Kept apart from models.py (which models.py imports at its end) so the delivery feature is one
family: the rows here are written only by mailer.transitions (record_delivery,
record_delivery_sync) and read by mailer.delivery_report.
"""

from django.db import models

from mailer.models import Campaign, CampaignRecipient


class RecipientDelivery(models.Model):
    """One per sent recipient the provider's log told us about."""

    class Status(models.TextChoices):
        DELIVERED = "delivered", "Доставлено"
        SOFT_BOUNCE = "soft_bounce", "Временный отказ"
        HARD_BOUNCE = "hard_bounce", "Адрес не существует"

    BOUNCES = (Status.SOFT_BOUNCE, Status.HARD_BOUNCE)

    recipient = models.OneToOneField(
        CampaignRecipient, verbose_name="получатель", on_delete=models.CASCADE, related_name="delivery"
    )
    # Copied from the recipient so a campaign's report is one indexed aggregate.
    campaign = models.ForeignKey(Campaign, verbose_name="кампания", on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField("статус доставки", max_length=16, choices=Status)
    status_at = models.DateTimeField("время статуса")
    reason = models.TextField("причина отказа", blank=True)
    opened_at = models.DateTimeField("открыто", null=True, blank=True)
    provider_id = models.CharField("id в журнале smtp.bz", max_length=64, blank=True)
    synced_at = models.DateTimeField("получено от провайдера")

    class Meta:
        verbose_name = "статус доставки"
        verbose_name_plural = "статусы доставки"
        indexes = [models.Index(fields=["campaign", "status"], name="delivery_campaign_status")]

    def __str__(self):
        return self.get_status_display()


class DeliverySync(models.Model):
    """The state of the delivery-status sync (a singleton, pk=1): the last good run and the
    last error, which the dashboard shows while the last known statuses stay as they were."""

    last_synced_at = models.DateTimeField("последняя успешная синхронизация", null=True, blank=True)
    error = models.TextField("ошибка", blank=True)
    error_at = models.DateTimeField("время ошибки", null=True, blank=True)
    counts = models.JSONField("итоги последнего прохода", default=dict, blank=True)

    class Meta:
        verbose_name = "синхронизация статусов доставки"
        verbose_name_plural = "синхронизация статусов доставки"

    def __str__(self):
        return "Синхронизация статусов доставки"

    @classmethod
    def load(cls):
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class CampaignReport(Campaign):
    """The campaign seen as a report (its own admin screen: counts, rates, chart, bounces)."""

    class Meta:
        proxy = True
        verbose_name = "отчёт по кампании"
        verbose_name_plural = "отчёты по кампаниям"
