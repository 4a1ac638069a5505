from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The dev mail catcher, its outbox, demo data and the `make run` launcher.

    Installed only while the dev tools are on (settings.DEVTOOLS): production never loads it.
    """

    name = "devtools"
    verbose_name = "Разработка"
