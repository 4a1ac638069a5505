"""`manage.py mailer_send_now`: one sender pass now, as the Huey task would run it."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mailer import selectors, services
from mailer.engine import limits, sender, shutdown
from mailer.models import GlobalMailAccount, SendLog


class Command(BaseCommand):
    help = "Один проход отправителя прямо сейчас (то же, что задача send_pending_emails)."

    def handle(self, *args, **options):
        if not GlobalMailAccount.load().is_enabled:
            raise CommandError(services.ACCOUNT_DISABLED)
        started, last_log = time.monotonic(), _last_log_id()
        with shutdown.stop_on_signals():  # SIGTERM / Ctrl-C: stop after the message in flight
            sent_a_pass = sender.run_sender_pass()
        if not sent_a_pass:
            raise CommandError(
                f"Сейчас отправляет другой процесс (блокировка {limits.SENDER_LOCK_KEY} = "
                f"{limits.sender_lock_holder()}). Проход пропущен; посмотрите mailer_status."
            )
        self.stdout.write(_summary(last_log, time.monotonic() - started))
        if shutdown.stop_requested():
            self.stdout.write("Остановлено по сигналу после письма, которое уже отправлялось.")


def _last_log_id():
    return SendLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _summary(last_log, seconds):
    logs = SendLog.objects.filter(id__gt=last_log, kind=SendLog.Kind.CAMPAIGN)
    sent = logs.filter(status=SendLog.Status.SENT).count()
    failed = logs.filter(status=SendLog.Status.FAILED).count()
    lines = [f"Проход отправителя завершён за {seconds:.1f} с: отправлено {sent}, ошибок {failed}."]
    snapshot = selectors.snapshot(now=timezone.now())
    if snapshot.reason_text:
        lines.append(f"Кампания «{snapshot.active_campaign.name}» отложена: {snapshot.reason_text}")
    elif snapshot.active_campaign is None:
        lines.append("В очереди больше ничего нет.")
    return "\n".join(lines)
