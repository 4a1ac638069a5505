"""`manage.py mailer_status [--user NAME] [--json]`: the mailer on one screen."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mailer.management import status_report


class Command(BaseCommand):
    help = (
        "Состояние рассылок: очередь, лимит в час, дневные лимиты, квота smtp.bz, блокировка "
        "отправителя и троттлинг менеджера — то, что чеклист смотрит через SQL и redis-cli."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="ИМЯ", help="показать троттлинг этого пользователя")
        parser.add_argument("--json", action="store_true", help="вывести JSON вместо текста")

    def handle(self, *args, **options):
        user = _user(options["user"]) if options["user"] else None
        report = status_report.build(now=timezone.now(), user=user)
        if options["json"]:
            self.stdout.write(json.dumps(status_report.as_json(report), ensure_ascii=False, indent=2, default=str))
        else:
            self.stdout.write(status_report.render(report), ending="")


def _user(username):
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"Пользователь «{username}» не найден.") from None
