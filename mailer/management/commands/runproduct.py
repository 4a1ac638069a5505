"""`make run`: prepares the database and runs the web server and the Huey consumer together."""

import os
import secrets
import subprocess
import sys

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Готовит базу и запускает веб-сервер и обработчик очереди (Huey) до Ctrl-C."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        port = os.environ.get("PORT", "8000")
        login, password = self._admin()
        self.stdout.write(f"\nCRM mailer: http://127.0.0.1:{port}/admin/")
        if password:
            self.stdout.write(f"Вход: {login} / {password}\n")
        else:
            self.stdout.write(f"Вход: {login} (пароль был показан при первом запуске)\n")
        manage = [sys.executable, "manage.py"]
        processes = [
            subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"]),
            subprocess.Popen([*manage, "run_huey"]),
        ]
        try:
            for process in processes:
                process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait()

    def _admin(self):
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return "admin", None
        password = secrets.token_urlsafe(9)
        User.objects.create_superuser("admin", "admin@example.com", password)
        return "admin", password
