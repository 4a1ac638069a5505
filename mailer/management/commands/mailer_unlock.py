"""`manage.py mailer_unlock [--force]`: clears the sender lock a crashed sender left behind."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailer.engine import cache_view, limits


class Command(BaseCommand):
    help = (
        f"Снять блокировку отправителя ({limits.SENDER_LOCK_KEY}), оставшуюся после упавшего процесса. "
        "Свежую блокировку (её держатель работает) снимает только с --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="снять, даже если держатель недавно подавал сигнал")

    def handle(self, *args, force=False, **options):
        state = cache_view.sender_lock_state()
        lock = state.entry
        if lock.error:
            raise CommandError(f"Кеш недоступен ({lock.error}): блокировку не прочитать и не снять.")
        if lock.value is None:
            self.stdout.write("Блокировка отправителя свободна — снимать нечего.")
            return
        if not state.stale and not force:
            raise CommandError(_why_kept(state))
        if not limits.clear_sender_lock(lock.value):
            raise CommandError("Блокировку только что взял или снял другой процесс — ничего не изменено.")
        self.stdout.write(f"Блокировка отправителя снята (значение {lock.value}). Следующий проход начнёт отправку.")


def _why_kept(state):
    if state.silent_for is None:
        return (
            "Без Redis возраст блокировки неизвестен: возможно, отправитель работает. "
            "Если ни один процесс не отправляет, снимите её с --force."
        )
    return (
        f"Блокировка свежая (держатель подавал сигнал {state.silent_for} с назад): отправитель, похоже, "
        f"работает. Она устареет через {settings.MAILER_SENDER_LOCK_GRACE} с молчания; снять сейчас — с --force."
    )
