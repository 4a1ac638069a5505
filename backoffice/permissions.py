"""The «Менеджер» group: what sales staff may do in the back-office.

Kept in code and applied after every migrate, so a new permission reaches the group on the
next deploy without a hand edit.
"""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.utils import translation

MANAGER_GROUP = "Менеджер"

MANAGER_PERMISSIONS = {
    "mailer": {
        "campaign": ("view", "add", "change", "delete"),
        "campaignattachment": ("view", "add", "change", "delete"),
        "campaignrecipient": ("view", "add", "change", "delete"),
        "campaignqueue": ("view",),
        "sendlog": ("view",),
        "unsubscribe": ("view", "add"),
    },
    "backoffice": {
        "company": ("view",),
        "contact": ("view",),
        "notification": ("view", "change"),
    },
}


def ensure_manager_group(**kwargs):
    group, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
    codenames = [
        (app, f"{action}_{model}")
        for app, models in MANAGER_PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    permissions = [
        p
        for p in Permission.objects.filter(content_type__app_label__in=MANAGER_PERMISSIONS).select_related(
            "content_type"
        )
        if (p.content_type.app_label, p.codename) in codenames
    ]
    group.permissions.set(permissions)
    return group


# Django names permissions «Can add кампания»; the user and group forms list them by name.
PERMISSION_ACTIONS = {"add": "Добавление", "change": "Изменение", "delete": "Удаление", "view": "Просмотр"}


def name_permissions_in_russian(**kwargs):
    """«Добавление: кампания» for each model's four default permissions (after every migrate:
    Django creates new ones with its English names and never renames them)."""
    with translation.override(settings.LANGUAGE_CODE):  # Django's own models: «пользователь»
        _rename_permissions()


def _rename_permissions():
    renamed = []
    for permission in Permission.objects.select_related("content_type"):
        action, _, model_name = permission.codename.partition("_")
        model = permission.content_type.model_class()
        if action not in PERMISSION_ACTIONS or model is None or model_name != permission.content_type.model:
            continue
        name = f"{PERMISSION_ACTIONS[action]}: {model._meta.verbose_name}"[:255]  # str() under the override
        if permission.name != name:
            permission.name = name
            renamed.append(permission)
    Permission.objects.bulk_update(renamed, ["name"])
