"""The «Менеджер» group: what sales staff may do in the back-office.

Kept in code and applied after every migrate, so a new permission reaches the group on the
next deploy without a hand edit.
"""

from django.contrib.auth.models import Group, Permission

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
