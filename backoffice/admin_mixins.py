"""Shapes every back-office screen may take (the mailer's screens use them too): permissions,
and how a list of millions of rows counts them."""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


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


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to EXACT_UP_TO rows; past that, the number of rows is PostgreSQL's
    own estimate (EXPLAIN), so a list of a million rows opens without a COUNT(*) over them."""

    EXACT_UP_TO = 10_000

    @cached_property
    def count(self):
        estimate = _planner_rows(self.object_list)
        if estimate is None or estimate <= self.EXACT_UP_TO:
            return super().count
        return estimate


def _planner_rows(queryset):
    """The planner's row estimate for the queryset; None where there is none (SQLite)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


class BigListMixin:
    """A list of up to millions of rows: no count of the whole table beside the filtered
    one («N из M»), and the filtered one estimated past a few thousand rows."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
