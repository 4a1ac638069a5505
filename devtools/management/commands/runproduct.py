"""`make run`: prepares the database, then runs the web server, the Huey consumer (periodic
tasks included) and, in the embedded mode, the dev mail catcher, until Ctrl-C stops them all."""

import os
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devtools import demo, launcher
from devtools.supervisor import Child, Supervisor

WEB_HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Готовит базу (миграции, демо-данные, администратор) и запускает веб-сервер, "
        "обработчик очереди Huey и ловушку писем; Ctrl-C останавливает всё."
    )

    def handle(self, *args, **options):
        port = int(os.environ.get("PORT") or 8000)
        if not launcher.port_is_free(WEB_HOST, port):
            raise CommandError(f"Порт {port} занят другим процессом. Запустите на другом: PORT={port + 1} make run")
        try:
            admin, campaign, catcher = self._prepare()
        except KeyboardInterrupt:
            raise CommandError("Прервано во время подготовки базы; запустите снова.") from None
        env, relaxations = self._child_env(port, catcher)
        supervisor = Supervisor(self._children(port, catcher), env=env, cwd=settings.BASE_DIR)
        supervisor.start()
        try:
            ended = self._wait_until_listening(supervisor, port, catcher)
            if not ended and not supervisor.stop_requested:
                self._banner(port, admin, campaign, catcher, relaxations)
                ended = supervisor.wait()
        finally:
            self._say("\nОстанавливаю процессы…")
            supervisor.stop()
        if ended:
            raise CommandError(
                f"{ended.title} завершился (код {ended.process.returncode}), остальные остановлены. "
                "Причина — в сообщениях выше."
            )
        self._say("Остановлено.")

    def _prepare(self):
        """Everything before the processes start; each step is a no-op on a second run."""
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        admin = launcher.ensure_admin()
        campaign = demo.load(owner=admin.user) if admin else None
        catcher = self._catcher_address() if settings.MAIL_CATCHER else None
        if catcher:
            launcher.point_account_at_catcher(host=catcher[0], port=catcher[1])
        return admin, campaign, catcher

    # --- processes ------------------------------------------------------------------------

    def _catcher_address(self):
        host, port = settings.MAIL_CATCHER_HOST, settings.MAIL_CATCHER_PORT
        if not launcher.port_is_free(host, port):
            port = launcher.free_port(host)  # another catcher (or anything) has the usual one
        return host, port

    def _children(self, port, catcher):
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        children = [
            Child("Веб-сервер", [*manage, "runserver", f"{WEB_HOST}:{port}", "--noreload"]),
            Child("Обработчик очереди (Huey)", [*manage, "run_huey"]),
        ]
        if catcher:
            children.append(
                Child(
                    "Ловушка писем",
                    [
                        *manage,
                        "run_mail_catcher",
                        "--host",
                        catcher[0],
                        "--port",
                        str(catcher[1]),
                        "--dir",
                        str(settings.MAIL_CATCHER_DIR),
                    ],
                )
            )
        return children

    def _child_env(self, port, catcher):
        env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
        # Unsubscribe links in the messages must point at this server, whatever its port.
        env.setdefault("MAILER_PUBLIC_BASE_URL", f"http://{WEB_HOST}:{port}")
        relaxations = []
        if catcher:
            env["MAIL_CATCHER_PORT"] = str(catcher[1])
            relaxations = launcher.demo_relaxations(os.environ)
            env.update({r.name: r.value for r in relaxations})
        return env, relaxations

    def _wait_until_listening(self, supervisor, port, catcher):
        """So that the printed URL works when it is printed; returns a child that died."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        ended = supervisor.wait(until=lambda: self._all_listening(port, catcher) or time.monotonic() > deadline)
        if not ended and not self._all_listening(port, catcher):
            self._say(f"Внимание: процессы не ответили за {STARTUP_TIMEOUT_SECONDS} с — смотрите сообщения выше.")
        return ended

    def _all_listening(self, port, catcher):
        return launcher.is_listening(WEB_HOST, port) and (not catcher or launcher.is_listening(*catcher))

    # --- what the newcomer reads --------------------------------------------------------

    def _banner(self, port, admin, campaign, catcher, relaxations):
        line = "─" * 78
        lines = [
            line,
            f" CRM-рассылки запущены — {self._mode()}",
            "",
            f"   Адрес:  http://{WEB_HOST}:{port}/admin/",
            *self._login_lines(admin),
            "",
        ]
        if campaign:
            lines += [
                f" Демо-данные загружены: кампания «{campaign.name}» "
                f"({campaign.recipients.count()} получателей, один адрес с ошибкой).",
                " Откройте «Кампании» → кампания → «Запустить»: отправитель работает каждые 30 секунд.",
                "",
            ]
        if catcher:
            lines += self._catcher_lines(catcher, relaxations)
        lines += [" Остановить всё: Ctrl-C", line]
        self._say("\n".join(lines))

    def _login_lines(self, admin):
        # Other manage.py commands do not get the demo's DEBUG by themselves.
        reset = f"DEBUG=True {_python()} manage.py changepassword {launcher.ADMIN_USERNAME}"
        if admin is None:
            return ["   Вход:   под существующей учётной записью суперпользователя"]
        if admin.password:
            return [
                f"   Логин:  {admin.user.username}",
                f"   Пароль: {admin.password}",
                f"   (пароль показан один раз; сменить его: {reset})",
            ]
        return [f"   Логин:  {admin.user.username}", f"   Пароль: был показан при первом запуске; сбросить: {reset}"]

    def _catcher_lines(self, catcher, relaxations):
        lines = [
            f" Ловушка писем: {catcher[0]}:{catcher[1]} → {settings.MAIL_CATCHER_DIR}",
            " «Настройки почты» направлены в неё и включены: письма никуда не уходят,",
            " их видно в админке в разделе «Исходящие (dev)».",
            "",
            " Демо-режим ослабляет ограничения (переменными окружения):",
        ]
        for r in relaxations:
            source = " (задано вами)" if r.from_environment else ""
            lines.append(f"   {r.name}={r.value}{source} — {r.why}")
        lines.append(f" Не ослаблен {launcher.daily_limit_line()}")
        lines += [
            " Чтобы проверить настоящие ограничения, задайте их явно, например",
            "   MAILER_WORKING_HOURS_ENABLED=true MAILER_RATE_PER_HOUR=100 make run",
            "",
        ]
        return lines

    def _mode(self):
        database = settings.DATABASES["default"]
        if database["ENGINE"].endswith("sqlite3"):
            where = f"встроенный режим: SQLite ({database['NAME']}), кеш и очередь Huey без Redis"
        else:
            where = "PostgreSQL" if "postgresql" in database["ENGINE"] else database["ENGINE"]
            where += ", Redis" if settings.REDIS_URL else ", кеш в базе"
        return where

    def _say(self, text):
        self.stdout.write(text)
        self.stdout.flush()  # the banner must show before the children's logs, even in a pipe


def _python():
    """The interpreter as the user would type it: `.venv/bin/python` inside the project."""
    path = Path(sys.executable)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
