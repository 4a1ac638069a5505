from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Рассылки"

    def ready(self):
        from mailer import checks  # noqa: F401  (registers the deployment checks)
