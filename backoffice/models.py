from django.conf import settings
from django.db import models
from django.db.models import Q


class Company(models.Model):
    name = models.CharField("название", max_length=255)
    inn = models.CharField("ИНН", max_length=12, blank=True)
    email = models.CharField("e-mail", max_length=254, blank=True)
    phone = models.CharField("телефон", max_length=50, blank=True)
    city = models.CharField("город", max_length=100, blank=True)
    industry = models.CharField("отрасль", max_length=100, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="менеджер",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="companies",
    )
    created_at = models.DateTimeField("создана", auto_now_add=True)

    class Meta:
        verbose_name = "компания"
        verbose_name_plural = "компании"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    company = models.ForeignKey(Company, verbose_name="компания", on_delete=models.CASCADE, related_name="contacts")
    full_name = models.CharField("ФИО", max_length=255)
    position = models.CharField("должность", max_length=255, blank=True)
    email = models.CharField("e-mail", max_length=254, blank=True)
    phone = models.CharField("телефон", max_length=50, blank=True)

    class Meta:
        verbose_name = "контакт"
        verbose_name_plural = "контакты"
        ordering = ["full_name"]
        indexes = [models.Index(fields=["full_name"], name="contact_full_name")]  # the list's order

    def __str__(self):
        return self.full_name


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="пользователь",
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField("тип", max_length=50)
    title = models.CharField("заголовок", max_length=255)
    text = models.TextField("текст", blank=True)
    link = models.CharField("ссылка", max_length=500, blank=True)
    # Lets the engine say "notify once" for an event it may observe many times.
    dedupe_key = models.CharField("ключ дедупликации", max_length=255, blank=True)
    read_at = models.DateTimeField("прочитано", null=True, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True)

    class Meta:
        verbose_name = "уведомление"
        verbose_name_plural = "уведомления"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_unique_dedupe_key_per_user",
            )
        ]
        # The sidebar badge on every page counts these.
        indexes = [models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread")]

    def __str__(self):
        return self.title
