"""Public views: the unsubscribe page and the RFC 8058 one-click endpoint."""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import CampaignRecipient, Unsubscribe
from .pii import mask_email
from .suppression import suppress
from .tokens import BadToken, read_token

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


@csrf_exempt  # the signed token is the proof; RFC 8058 clients send no cookies or CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        parsed = read_token(token)
    except BadToken:
        return _page(request, "invalid", status=400)
    if parsed.is_test:
        return _page(request, "test")
    recipient = CampaignRecipient.objects.filter(pk=parsed.recipient_id).first()
    if recipient is None:
        return _page(request, "invalid", status=400)
    already = Unsubscribe.objects.filter(email=recipient.email).exists()
    if request.method == "GET":
        return _page(request, "already" if already else "confirm", recipient=recipient)
    if not already:
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        source = Unsubscribe.Source.ONE_CLICK if one_click else Unsubscribe.Source.LINK
        suppress(recipient.email, source=source, campaign=recipient.campaign)
    return _page(request, "already" if already else "done", recipient=recipient)


def _page(request, state, *, recipient=None, status=200):
    context = {"state": state, "masked_email": mask_email(recipient.email) if recipient else ""}
    return render(request, "mailer/unsubscribe.html", context, status=status)
