from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "CRM"

    def ready(self):
        from backoffice import login_throttle  # noqa: F401  (logs each refused login)
        from backoffice.permissions import ensure_manager_group, name_permissions_in_russian

        # After the last app migrated, when every permission exists.
        post_migrate.connect(ensure_manager_group, dispatch_uid="backoffice.manager_group")
        post_migrate.connect(name_permissions_in_russian, dispatch_uid="backoffice.permission_names")
