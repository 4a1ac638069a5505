"""Permission shapes every back-office screen may take (the mailer's screens use them too)."""


class SuperuserOnlyMixin:
    """Only superusers see and change it: settings, login records."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class ReadOnlyAdminMixin:
    """A record of what happened: nobody adds, edits or deletes it here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
