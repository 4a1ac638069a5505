"""«Исходящие (dev)»: what the dev mail catcher received, for superusers while it is on.

There is no model behind it (the messages are .eml files), so these are two admin-site views
that unfold mounts through `UNFOLD["SITE_VIEWS"]` and wraps in the admin's login check.
"""

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.generic import TemplateView
from unfold.views import UnfoldSiteViewMixin

from devtools import outbox
from mailer.engine import policy


def can_view_outbox(request):
    """The sidebar item's permission, read at call time so it follows MAIL_CATCHER."""
    return bool(settings.MAIL_CATCHER) and request.user.is_active and request.user.is_superuser


class _OutboxView(UnfoldSiteViewMixin, TemplateView):
    def has_permission(self):
        return can_view_outbox(self.request)

    def dispatch(self, request, *args, **kwargs):
        if not settings.MAIL_CATCHER:
            raise Http404("Ловушка писем выключена (MAIL_CATCHER=false).")
        return super().dispatch(request, *args, **kwargs)


class OutboxListView(_OutboxView):
    title = "Исходящие (dev)"
    template_name = "admin/devtools/outbox/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            folder=outbox.directory(),
            total=outbox.count(),
            limit=outbox.LIST_LIMIT,
            table={
                "headers": [f"Дата ({policy.zone_label()})", "От", "Кому", "Тема", "Размер"],
                "rows": [_row(summary) for summary in outbox.recent()],
            },
            **kwargs,
        )


class OutboxMessageView(_OutboxView):
    title = "Исходящие (dev)"
    template_name = "admin/devtools/outbox/message.html"

    def get_context_data(self, **kwargs):
        message = outbox.read(self.kwargs["name"])
        if message is None:
            raise Http404("Письмо не найдено.")
        return super().get_context_data(
            message=message,
            date=_when(message.summary),
            zone_label=policy.zone_label(),
            subtitle=message.summary.subject or "(без темы)",
            **kwargs,
        )


def _row(summary):
    link = format_html(
        '<a class="text-primary-600 underline" href="{}">{}</a>',
        reverse("admin:outbox_message", args=[summary.name]),
        summary.subject or "(без темы)",
    )
    return [_when(summary), summary.sender, summary.to, link, f"{max(1, round(summary.size / 1024))} КБ"]


def _when(summary):
    if summary.date is None:
        return "—"
    return f"{timezone.localtime(summary.date):%d.%m.%Y %H:%M:%S}"
