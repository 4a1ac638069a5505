"""The back-office's frame (django-unfold): titles, the dashboard, the sidebar by permission."""

import copy

from django.urls import reverse_lazy


def _can(permission):
    return lambda request: request.user.has_perm(permission)


def _nav(title, icon, url_name, permission, **extra):
    return {"title": title, "icon": icon, "link": reverse_lazy(url_name), "permission": _can(permission), **extra}


UNFOLD = {
    "SITE_TITLE": "CRM-рассылки",
    "SITE_HEADER": "CRM-рассылки",
    "SITE_SYMBOL": "mail",
    "SITE_URL": "/admin/",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "mailer.admin.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": "Рассылки",
                "items": [
                    _nav("Кампании", "campaign", "admin:mailer_campaign_changelist", "mailer.view_campaign"),
                    _nav(
                        "Получатели",
                        "group",
                        "admin:mailer_campaignrecipient_changelist",
                        "mailer.view_campaignrecipient",
                    ),
                    _nav(
                        "Очередь", "schedule_send", "admin:mailer_campaignqueue_changelist", "mailer.view_campaignqueue"
                    ),
                    _nav("Журнал отправки", "receipt_long", "admin:mailer_sendlog_changelist", "mailer.view_sendlog"),
                    _nav("Отчёты", "monitoring", "admin:mailer_campaignreport_changelist", "mailer.view_campaign"),
                ],
            },
            {
                "title": "CRM",
                "items": [
                    _nav("Компании", "apartment", "admin:backoffice_company_changelist", "backoffice.view_company"),
                    _nav("Контакты", "contacts", "admin:backoffice_contact_changelist", "backoffice.view_contact"),
                    _nav("Отписки", "unsubscribe", "admin:mailer_unsubscribe_changelist", "mailer.view_unsubscribe"),
                    _nav(
                        "Уведомления",
                        "notifications",
                        "admin:backoffice_notification_changelist",
                        "backoffice.view_notification",
                        badge="backoffice.notifications.unread_badge",
                    ),
                ],
            },
            {
                "title": "Администрирование",
                "items": [
                    _nav("Журнал действий", "history", "admin:admin_logentry_changelist", "admin.view_logentry"),
                    _nav(
                        "Настройки почты",
                        "settings",
                        "admin:mailer_globalmailaccount_changelist",
                        "mailer.view_globalmailaccount",
                    ),
                    _nav(
                        "Квота smtp.bz", "data_usage", "admin:mailer_smtpbzquota_changelist", "mailer.view_smtpbzquota"
                    ),
                    _nav("Пользователи", "person", "admin:auth_user_changelist", "auth.view_user"),
                    _nav(
                        "Попытки входа",
                        "lock_person",
                        "admin:axes_accessfailurelog_changelist",
                        "axes.view_accessfailurelog",
                    ),
                    _nav(
                        "Блокировки входа",
                        "lock_clock",
                        "admin:axes_accessattempt_changelist",
                        "axes.view_accessattempt",
                    ),
                ],
            },
        ],
    },
}


DEVTOOLS_VIEWS = [
    ("outbox/", "outbox", "devtools.views.OutboxListView"),
    ("outbox/<str:name>/", "outbox_message", "devtools.views.OutboxMessageView"),
]
DEVTOOLS_NAVIGATION = {
    "title": "Разработка",
    "items": [
        {
            "title": "Исходящие (dev)",
            "icon": "outbox",
            "link": reverse_lazy("admin:outbox"),
            # Read at call time: the item shows only while the catcher is on.
            "permission": "devtools.views.can_view_outbox",
        }
    ],
}


def unfold_settings(*, devtools: bool) -> dict:
    """django-unfold's UNFOLD setting; the dev tools' screens only when their app is installed."""
    unfold = copy.deepcopy(UNFOLD)
    if devtools:
        unfold["SITE_VIEWS"] = DEVTOOLS_VIEWS
        unfold["SIDEBAR"]["navigation"].append(DEVTOOLS_NAVIGATION)
    return unfold
