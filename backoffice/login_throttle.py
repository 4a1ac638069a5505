"""The login door: django-axes counts failed logins per username and per client IP.

This module holds what axes asks the project for (settings name these functions): the
limit and the lockout window read from settings at call time, and the Russian page a
locked-out person gets. The client IP is config.client_ip's, as for the unsubscribe page.
"""

import logging
import math
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

logger = logging.getLogger(__name__)

LOCKED_OUT_STATUS = 429


def failure_limit(request, credentials=None) -> int:
    return settings.LOGIN_FAILURE_LIMIT


def cool_off(request=None) -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def minutes_left(ends_at: datetime, *, now: datetime) -> int:
    """Whole minutes until `ends_at`, rounded up: «через 1 мин.» even for the last seconds."""
    return max(1, math.ceil((ends_at - now) / timedelta(minutes=1)))


def lockout_message(minutes: int) -> str:
    return (
        "Слишком много неудачных попыток входа. Вход для этого имени пользователя или с этого "
        f"адреса временно закрыт — попробуйте через {minutes} мин."
    )


def lockout_ends_at(request, credentials) -> datetime:
    """When the fullest locked bucket (this username, this IP) drops below the limit.

    Failures are not counted while locked out (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
    is off), so the newest counted failure plus the window is when the door opens again.
    """
    handler = AxesProxyHandler.get_implementation()
    limit = failure_limit(request, credentials)
    newest = [
        figures["newest"]
        for figures in (
            attempts.aggregate(failures=Sum("failures_since_start"), newest=Max("attempt_time"))
            for attempts in handler.get_user_attempts(request, credentials)
        )
        if (figures["failures"] or 0) >= limit
    ]
    return max(newest, default=timezone.now()) + cool_off(request)


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, unbound, with the lockout message and 429."""
    minutes = minutes_left(lockout_ends_at(request, credentials), now=timezone.now())
    message = lockout_message(minutes)
    context = getattr(original_response, "context_data", None)
    if context is None:  # not the admin's login view: nothing to show the message on
        return HttpResponse(message, status=LOCKED_OUT_STATUS, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    username = get_client_username(request, credentials)
    form = AdminAuthenticationForm(request, initial={"username": username})
    response = TemplateResponse(
        request, original_response.template_name, {**context, "form": form}, status=LOCKED_OUT_STATUS
    )
    return response.render()  # middleware answers are not rendered by Django


@receiver(user_locked_out, dispatch_uid="backoffice.login_locked_out")
def log_lockout(sender, request, username, ip_address, **kwargs):
    # Each refused attempt while locked, too: axes keeps only the failures in the database.
    logger.warning("Login refused: too many failed attempts", extra={"username": username, "client_ip": ip_address})
