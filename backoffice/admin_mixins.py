"""Shapes every back-office screen may take (the mailer's screens use them too): permissions,
and how a list of millions of rows counts them."""

import json
from datetime import datetime, time, timedelta
from functools import cache

from django import forms
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import checkbox
from unfold.contrib.filters.admin import RangeDateFilter


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


class RowCheckboxMixin:
    """Each row's selection checkbox without a template rendering per row."""

    def action_checkbox(self, obj):
        # unfold renders the same widget template once a row (a fifth of a page's time):
        # rendered once per language, each row gets a copy with its own id.
        return mark_safe(_row_checkbox(get_language()).replace(ROW_MARK, escape(str(obj.pk))))

    action_checkbox.short_description = UnfoldModelAdmin.action_checkbox.short_description


ROW_MARK = "__row_pk__"


@cache
def _row_checkbox(language):
    return checkbox.render(ACTION_CHECKBOX_NAME, ROW_MARK)


class BigListMixin(RowCheckboxMixin):
    """A list of up to millions of rows: no count of the whole table beside the filtered
    one («N из M»), and the filtered one estimated past a few thousand rows."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


class DayRangeFilter(RangeDateFilter):
    """A range of days on a date-and-time field, both days whole: from the first day's start
    to the last day's end, in the current time zone, on the field's own index (unfold's
    filter stops at the last day's midnight and reads only ISO dates; date_hierarchy scans the
    table for its links)."""

    def queryset(self, request, queryset):
        bounds = {}
        first = _day(self.used_parameters.get(f"{self.parameter_name}_from"))
        last = _day(self.used_parameters.get(f"{self.parameter_name}_to"))
        if first:
            bounds[f"{self.parameter_name}__gte"] = _day_start(first)
        if last:
            bounds[f"{self.parameter_name}__lt"] = _day_start(last + timedelta(days=1))
        return queryset.filter(**bounds)


def _day(value):
    """A day as staff type it in the active language (31.12.2026), else None."""
    try:
        return forms.DateField().clean(value) if value else None
    except ValidationError:
        return None


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min))
