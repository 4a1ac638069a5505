"""`manage.py run_mail_catcher`: the dev SMTP catcher, until Ctrl-C or SIGTERM."""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools import catcher


class Command(BaseCommand):
    help = "Ловушка писем для разработки: принимает письма по SMTP и складывает их в .eml-файлы."

    def add_arguments(self, parser):
        parser.add_argument("--host", help="адрес (по умолчанию MAIL_CATCHER_HOST)")
        parser.add_argument("--port", type=int, help="порт (по умолчанию MAIL_CATCHER_PORT)")
        parser.add_argument("--dir", help="папка для писем (по умолчанию MAIL_CATCHER_DIR)")

    def handle(self, *args, **options):
        host = options["host"] or settings.MAIL_CATCHER_HOST
        port = options["port"] or settings.MAIL_CATCHER_PORT
        folder = Path(options["dir"] or settings.MAIL_CATCHER_DIR)
        try:
            server = catcher.start(host=host, port=port, folder=folder)
        except (OSError, RuntimeError) as exc:  # the port is taken or the address is wrong
            raise CommandError(f"Ловушка писем не запустилась на {host}:{port}: {exc}") from exc
        self.stdout.write(f"Ловушка писем слушает {host}:{port}, письма складываются в {folder}", ending="\n")
        self.stdout.flush()
        try:
            _wait_for_stop_signal()
        finally:
            server.stop()


def _wait_for_stop_signal():
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
