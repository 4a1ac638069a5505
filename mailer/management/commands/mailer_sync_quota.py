"""`manage.py mailer_sync_quota`: one quota sync with smtp.bz now (the hourly Huey task)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mailer.engine import policy
from mailer.models import GlobalMailAccount
from mailer.smtp_bz import quota


class Command(BaseCommand):
    help = "Синхронизировать квоту smtp.bz прямо сейчас (то же, что задача sync_smtp_bz_quota)."

    def handle(self, *args, **options):
        if not GlobalMailAccount.load().smtp_bz_api_key:
            raise CommandError("API-ключ smtp.bz не задан в «Настройках почты» — синхронизировать нечего.")
        row = quota.sync_quota(now=timezone.now())
        if row.sync_error:
            kept = f" Последнее известное значение: {row.emails_available}." if row.last_synced_at else ""
            raise CommandError(f"Квота не синхронизирована: {row.sync_error.rstrip('.')}.{kept}")
        self.stdout.write(
            f"Квота smtp.bz: осталось {row.emails_available} из {row.emails_limit}, "
            f"синхронизирована {policy.local_time(row.last_synced_at):%d.%m.%Y %H:%M:%S} ({policy.zone_label()})."
        )
