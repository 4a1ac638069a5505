"""Public views: the unsubscribe page and the RFC 8058 one-click endpoint.

The product's only public URL. GET only shows a confirm page (link scanners follow links
and must unsubscribe nobody); POST unsubscribes, from the page's button or from a mail
client's one-click request, which carries no cookies and no CSRF token.

Only bad tokens count against a client. The signature is checked first — an HMAC costs
less than the cache round trip a bucket check would — so a valid token is never refused,
however many junk tokens came from the same address (a shared office IP, the proxy).
"""

import logging

from csp.constants import NONCE, NONE, SELF
from csp.decorators import csp
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from config.client_ip import client_ip
from mailer.engine.limits import CACHE_ERRORS
from mailer.models import CampaignRecipient, Unsubscribe
from mailer.pii import mask_email
from mailer.suppression import suppress
from mailer.suppression.tokens import BadToken, read_token

logger = logging.getLogger(__name__)

RATE_LIMIT_GROUP = "mailer.unsubscribe"

# The public page needs nothing but its own <style> (by nonce) and its own form.
PAGE_POLICY = {
    "default-src": [NONE],
    "style-src": [NONCE],
    "form-action": [SELF],
    "base-uri": [NONE],
    "frame-ancestors": [NONE],
}


@csrf_exempt  # the signed token is the proof; RFC 8058 clients send no cookies or CSRF token
@never_cache  # the page shows per-recipient state; no proxy may keep it
@require_http_methods(["GET", "POST"])
@csp(PAGE_POLICY)
def unsubscribe(request, token):
    try:
        parsed = read_token(token)
    except BadToken:
        if _counts_too_many_bad_tokens(request):
            return _page(request, "too_many", status=429)
        logger.info("Unsubscribe refused: bad token", extra={"method": request.method})
        return _page(request, "invalid", status=400)
    if parsed.is_test:
        return _page(request, "test")
    recipient = CampaignRecipient.objects.select_related("campaign").filter(pk=parsed.recipient_id).first()
    if recipient is None:
        # Authentic, but the recipient row (usually with its campaign) was deleted since.
        return _page(request, "gone", status=410)
    if request.method == "GET":
        already = Unsubscribe.objects.filter(email=recipient.email).exists()
        return _page(request, "already" if already else "confirm", recipient=recipient)
    _, created = suppress(recipient.email, source=_source(request), campaign=recipient.campaign)
    return _page(request, "done" if created else "already", recipient=recipient)


def _source(request):
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"  # RFC 8058 body
    return Unsubscribe.Source.ONE_CLICK if one_click else Unsubscribe.Source.LINK


def _counts_too_many_bad_tokens(request):
    """Counts one bad token against the client IP; True past MAILER_UNSUBSCRIBE_RATE_LIMIT.

    Fails open: with Redis down a bad token still gets its 400 (django-ratelimit raises the
    cache's error with Django's RedisCache, its issue #333)."""
    try:
        return is_ratelimited(
            request,
            group=RATE_LIMIT_GROUP,
            key=lambda group, request: client_ip(request),
            rate=lambda group, request: settings.MAILER_UNSUBSCRIBE_RATE_LIMIT,
            increment=True,
        )
    except CACHE_ERRORS as exc:
        logger.error("Unsubscribe rate limit unavailable, bad tokens not counted", extra={"error": str(exc)})
        return False


def _page(request, state, *, recipient=None, status=200):
    context = {"state": state, "masked_email": mask_email(recipient.email) if recipient else ""}
    return render(request, "mailer/unsubscribe.html", context, status=status)
