from django.conf import settings
from django.db import models
from django.db.models import Q

from mailer.account_models import GlobalMailAccount, SmtpBzQuota  # noqa: F401 — their home is apart
from mailer.attachments import AttachmentStorage


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Managers see their own campaigns; superusers see everyone's."""
        return self if user.is_superuser else self.filter(created_by=user)

    def editable(self):
        """The rows whose `is_editable` holds, in SQL: where recipients may still be added."""
        return self.filter(status__in=Campaign.EDITABLE_STATUSES)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Черновик"
        READY = "ready", "В очереди"
        SENDING = "sending", "Отправляется"
        PAUSED = "paused", "На паузе"
        SENT = "sent", "Отправлена"

    # Nothing of this version went out yet (draft), or the sender stopped (paused).
    EDITABLE_STATUSES = (Status.DRAFT, Status.PAUSED)
    # The sender's to work on: waiting in the queue or being sent.
    IN_SENDERS_HANDS = (Status.READY, Status.SENDING)

    name = models.CharField("название", max_length=255)
    subject = models.CharField("тема письма", max_length=255)
    body_html = models.TextField("текст письма (HTML)")
    body_text = models.TextField(
        "текст письма (без оформления)",
        blank=True,
        help_text="Если пусто, текст соберётся из HTML.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="автор",
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    status = models.CharField("статус", max_length=16, choices=Status, default=Status.DRAFT)
    scheduled_at = models.DateTimeField("запланирована на", null=True, blank=True)  # its queue waits till then
    created_at = models.DateTimeField("создана", auto_now_add=True)
    updated_at = models.DateTimeField("изменена", auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = "кампания"
        verbose_name_plural = "кампании"
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    # --- what staff may do now ---------------------------------------------------------------
    # The services refuse an action unless its predicate holds, and every admin button (detail,
    # row, inline, delete) shows by the same predicate. Those reading the queue use
    # `campaign.queue`: lists select_related("queue").

    @property
    def is_editable(self) -> bool:
        """Text, attachments and recipients may change."""
        return self.status in self.EDITABLE_STATUSES

    @property
    def can_start(self) -> bool:
        """Only a draft starts; a paused campaign is resumed instead."""
        return self.status == self.Status.DRAFT

    @property
    def can_pause(self) -> bool:
        """In the sender's hands and not finished (a campaign finished with errors stays
        «Отправляется» with its queue completed: there is nothing left to pause)."""
        queue = self.current_queue
        unfinished = queue is None or not queue.is_completed
        return self.status in self.IN_SENDERS_HANDS and unfinished and not self.is_scheduled  # plans: cancelled

    @property
    def can_resume(self) -> bool:
        """Paused, or waiting for a deferral that staff may cut short (checklist 8.2)."""
        if self.status == self.Status.PAUSED:
            return True
        queue = self.current_queue
        deferred = queue is not None and queue.is_deferred and not self.is_scheduled  # a plan is not cut short
        return self.status in self.IN_SENDERS_HANDS and deferred

    @property
    def is_scheduled(self) -> bool:
        """Planned by staff (as a draft that can_start may be); a draft again if cancelled in time."""
        queue = self.current_queue
        planned = queue is not None and queue.is_deferred and queue.defer_reason == CampaignQueue.DeferReason.SCHEDULED
        return self.status == self.Status.READY and planned

    @property
    def can_retry_failed(self) -> bool:
        """Failures go back in line while the campaign is being sent or is paused."""
        return self.status in (self.Status.SENDING, self.Status.PAUSED)

    @property
    def can_add_recipients(self) -> bool:
        return self.is_editable

    @property
    def can_delete(self) -> bool:
        """A campaign in the sender's hands is paused first, then deleted."""
        return self.status not in self.IN_SENDERS_HANDS

    @property
    def current_queue(self) -> "CampaignQueue | None":
        """The campaign's queue row, or None before its first start."""
        try:
            return self.queue
        except CampaignQueue.DoesNotExist:
            return None


class CampaignAttachment(models.Model):
    campaign = models.ForeignKey(
        Campaign, verbose_name="кампания", on_delete=models.CASCADE, related_name="attachments"
    )
    # Never public: see mailer/attachments.py.
    file = models.FileField("файл", upload_to="attachments/%Y/%m/", storage=AttachmentStorage())

    class Meta:
        verbose_name = "вложение"
        verbose_name_plural = "вложения"

    def __str__(self):
        return self.file.name.rsplit("/", 1)[-1]


class CampaignRecipient(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Ожидает"
        SENDING = "sending", "Отправляется"
        SENT = "sent", "Отправлено"
        FAILED = "failed", "Ошибка"
        UNSUBSCRIBED = "unsubscribed", "Отписан"
        # The message may have arrived (the connection broke after it was handed over, or the
        # sender died after its claim): never resent unless staff ask (reconcile, retry).
        UNKNOWN = "unknown", "Неизвестно, дошло ли"

    class ErrorKind(models.TextChoices):
        NONE = "", "—"
        PERMANENT = "permanent", "Постоянная"
        TRANSIENT = "transient", "Временная"
        INVALID = "invalid", "Некорректный адрес"
        INTERRUPTED = "interrupted", "Отправка прервана"

    # Failures worth another try: the message surely did not go. (An unknown outcome is a
    # status of its own, retried only when staff tick «включая неизвестные».)
    RETRYABLE_ERROR_KINDS = (ErrorKind.TRANSIENT,)

    campaign = models.ForeignKey(Campaign, verbose_name="кампания", on_delete=models.CASCADE, related_name="recipients")
    email = models.CharField("e-mail", max_length=254)
    name = models.CharField("имя", max_length=255, blank=True)
    company = models.ForeignKey(
        "backoffice.Company",
        verbose_name="компания",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contact = models.ForeignKey(
        "backoffice.Contact",
        verbose_name="контакт",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    variables = models.JSONField("переменные шаблона", default=dict, blank=True)
    status = models.CharField("статус", max_length=16, choices=Status, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField("попыток", default=0)
    error_kind = models.CharField("тип ошибки", max_length=16, choices=ErrorKind, default=ErrorKind.NONE, blank=True)
    last_error = models.TextField("последняя ошибка", blank=True)
    claimed_at = models.DateTimeField("взят в отправку", null=True, blank=True)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)
    smtp_message_id = models.CharField("Message-ID", max_length=255, blank=True)
    created_at = models.DateTimeField("добавлен", auto_now_add=True)

    class Meta:
        verbose_name = "получатель"
        verbose_name_plural = "получатели"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="recipient_unique_email_per_campaign")
        ]
        indexes = [
            # The sender's next chunk (status, then id order) and the campaign's first recipient.
            models.Index(fields=["campaign", "status", "id"], name="recipient_campaign_status_id"),
            models.Index(fields=["campaign", "id"], name="recipient_campaign_id"),
            models.Index(fields=["email"], name="recipient_email"),  # suppress(): all campaigns at once
        ]

    def __str__(self):
        return self.email


class CampaignQueue(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Ожидает"
        PROCESSING = "processing", "Отправляется"
        PAUSED = "paused", "На паузе"
        COMPLETED = "completed", "Завершена"

    class DeferReason(models.TextChoices):
        NONE = "", "—"
        RATE_PER_HOUR = "rate_per_hour", "Достигнут лимит писем в час"
        DAILY_LIMIT = "daily_limit", "Достигнут дневной лимит менеджера"
        QUOTA_EXHAUSTED = "quota_exhausted", "Исчерпана месячная квота провайдера"
        OUTSIDE_HOURS = "outside_hours", "Вне рабочего времени"  # the hours: selectors.reason_label
        CIRCUIT_BREAKER = "circuit_breaker", "Много ошибок SMTP подряд"
        SCHEDULED = "scheduled", "Запланирована"  # the time: selectors.reason_text

    class PauseReason(models.TextChoices):
        """Why the sender (not staff) paused the campaign; staff resume it after the fix."""

        NONE = "", "—"
        TEMPLATE_ERROR = "template_error", "Ошибка в шаблоне письма"
        BUILD_ERROR = "build_error", "Письмо не собрать (вложение)"
        SENDER_REFUSED = "sender_refused", "Сервер отклонил отправителя или учётную запись"
        MESSAGE_REFUSED = "message_refused", "Сервер отклонил письмо"

    campaign = models.OneToOneField(Campaign, verbose_name="кампания", on_delete=models.CASCADE, related_name="queue")
    status = models.CharField("статус", max_length=16, choices=Status, default=Status.PENDING, db_index=True)
    priority = models.IntegerField("приоритет", default=0)
    queued_at = models.DateTimeField("поставлена в очередь")
    started_at = models.DateTimeField("начало отправки", null=True, blank=True)
    heartbeat_at = models.DateTimeField("последняя активность", null=True, blank=True)
    completed_at = models.DateTimeField("завершена", null=True, blank=True)
    defer_reason = models.CharField("причина отложения", max_length=32, choices=DeferReason, default="", blank=True)
    deferred_until = models.DateTimeField("отложена до", null=True, blank=True)
    consecutive_transient_errors = models.PositiveIntegerField("временных ошибок подряд", default=0)
    pause_reason = models.CharField("причина остановки", max_length=32, choices=PauseReason, default="", blank=True)
    pause_detail = models.TextField("что случилось", blank=True)

    class Meta:
        verbose_name = "очередь кампании"
        verbose_name_plural = "очередь"
        ordering = ["-priority", "queued_at", "id"]

    def __str__(self):
        return f"Очередь: {self.campaign}"

    @property
    def is_completed(self) -> bool:
        return self.status == self.Status.COMPLETED

    @property
    def is_deferred(self) -> bool:
        """Waiting in line for a gate to open at `deferred_until`."""
        return self.status == self.Status.PENDING and self.deferred_until is not None


class SendLog(models.Model):
    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", "Кампания"
        TEST = "test", "Тестовое"

    class Status(models.TextChoices):
        SENT = "sent", "Отправлено"
        FAILED = "failed", "Ошибка"

    campaign = models.ForeignKey(
        Campaign,
        verbose_name="кампания",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="send_logs",
    )
    recipient = models.ForeignKey(
        CampaignRecipient,
        verbose_name="получатель",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="send_logs",
    )
    kind = models.CharField("вид", max_length=16, choices=Kind, default=Kind.CAMPAIGN)
    email = models.CharField("e-mail", max_length=254)
    status = models.CharField("статус", max_length=16, choices=Status)
    provider = models.CharField("провайдер", max_length=255, blank=True)
    smtp_message_id = models.CharField("Message-ID", max_length=255, blank=True)
    error = models.TextField("ошибка", blank=True)
    took_ms = models.PositiveIntegerField("время, мс", default=0)
    created_at = models.DateTimeField("время", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "запись журнала отправки"
        verbose_name_plural = "журнал отправки"
        ordering = ["-created_at"]
        constraints = [
            # The last line of defence against a double send: one success per recipient.
            models.UniqueConstraint(
                fields=["recipient"],
                condition=Q(status="sent"),
                name="sendlog_one_success_per_recipient",
            )
        ]
        indexes = [  # the admin's search: a Message-ID, a whole address
            models.Index(fields=["smtp_message_id"], name="sendlog_message_id"),
            models.Index(fields=["email"], name="sendlog_email"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.get_status_display()}"


class Unsubscribe(models.Model):
    class Source(models.TextChoices):
        LINK = "link", "Ссылка в письме"
        ONE_CLICK = "one_click", "Отписка в один клик"
        MANUAL = "manual", "Вручную"
        IMPORT = "import", "Импорт"
        BOUNCE = "bounce", "Адрес не существует"
        PROVIDER = "provider", "Список провайдера"

    email = models.CharField("e-mail", max_length=254, unique=True)
    source = models.CharField("источник", max_length=16, choices=Source)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name="кампания",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="unsubscribes",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="добавил",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("дата", auto_now_add=True)

    class Meta:
        verbose_name = "отписка"
        verbose_name_plural = "отписки"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="unsubscribe_created_at")]  # the list's order

    def __str__(self):
        return self.email


# The delivery family (statuses from the provider's log, the sync state, the report proxy).
from mailer.delivery_models import CampaignReport, DeliverySync, RecipientDelivery  # noqa: E402, F401
