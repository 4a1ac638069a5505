"""System checks: what the mailer's public side needs, and a usable secrets key."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from mailer import stored_secrets


@checks.register(checks.Tags.security)
def check_secrets_key(app_configs, **kwargs):
    # Found at `check`/`migrate` time rather than at the first send or settings save.
    try:
        stored_secrets.encrypt("check")
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="mailer.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_public_base_url_is_https(app_configs, **kwargs):
    # RFC 8058: mail clients offer one-click unsubscribe only for an HTTPS link, and
    # Gmail / Yahoo require one-click from bulk senders.
    if settings.MAILER_PUBLIC_BASE_URL.lower().startswith("https://"):
        return []
    return [
        checks.Warning(
            "MAILER_PUBLIC_BASE_URL is not an https:// URL: unsubscribe links in the "
            "List-Unsubscribe header will not qualify for RFC 8058 one-click unsubscribe.",
            hint="Set MAILER_PUBLIC_BASE_URL to the public https:// address of this site.",
            id="mailer.W001",
        )
    ]
