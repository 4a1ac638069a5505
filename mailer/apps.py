from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Рассылки"

    def ready(self):
        from config import sqlite_unicode
        from mailer import checks  # noqa: F401  (registers the deployment checks)

        sqlite_unicode.connect()  # «весен» finds «Весенняя» in the embedded demo too
