"""The Content-Security-Policy every page sends (issue 8, finding 11): no inline script in the
admin, and next to nothing on the public unsubscribe page. Chromium checks the admin works
under it (tests/browser/test_security.py)."""

import re

import pytest
from django.urls import reverse

from mailer.suppression.tokens import make_token

pytestmark = pytest.mark.django_db


def policy(response):
    header = response["Content-Security-Policy"]
    return {name: value for name, _, value in (part.strip().partition(" ") for part in header.split(";"))}


@pytest.mark.parametrize("url", ["admin:index", "admin:mailer_campaign_changelist", "admin:mailer_campaign_add"])
def test_admin_pages_allow_no_inline_script(client, superuser, url):
    client.force_login(superuser)
    directives = policy(client.get(reverse(url)))
    assert directives["script-src"] == "'self' 'unsafe-eval'"  # unfold's Alpine.js; never 'unsafe-inline'
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data: https:"
    assert (directives["object-src"], directives["base-uri"], directives["frame-ancestors"]) == ("'none'",) * 3
    assert directives["form-action"] == "'self'"


def test_the_login_page_has_the_policy_too(client):
    assert "script-src" in policy(client.get(reverse("admin:login")))


def test_the_unsubscribe_page_allows_only_its_own_style_and_form(client, campaign_a):
    recipient = campaign_a.recipients.first()
    response = client.get(reverse("unsubscribe", args=[make_token(recipient.pk)]))
    directives = policy(response)
    nonce = re.search(r'<style nonce="([^"]+)">', response.content.decode()).group(1)
    assert directives == {
        "default-src": "'none'",
        "style-src": f"'nonce-{nonce}'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
