"""Our suppression list and smtp.bz's kept in step: a removal here is a removal there, and a
new address goes there at once when the push is on."""

import pytest
from django.contrib.auth.models import User

from mailer.models import GlobalMailAccount, Unsubscribe
from mailer.smtp_bz.suppression import sync_provider_suppression
from mailer.suppression import suppress

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/mailer/unsubscribe/"


@pytest.fixture
def provider(settings, smtp_bz):
    GlobalMailAccount.objects.update_or_create(pk=1, defaults={"smtp_bz_api_key": "secret-key-123"})
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_SYNC = True
    return smtp_bz


@pytest.fixture
def boss(client):
    client.force_login(User.objects.create_superuser("boss", "boss@crm.example", "pass"))
    return client


def posts(fake, route):
    return [r["form"]["address"][0] for r in fake.requests if r["method"] == "POST" and r["path"].endswith(route)]


def test_removing_an_address_removes_it_at_smtp_bz_so_the_next_sync_does_not_bring_it_back(provider, boss):
    provider.unsubscribed = [{"address": "ivan@example.ru", "reason": "bounce"}]
    sync_provider_suppression()
    entry = Unsubscribe.objects.get(email="ivan@example.ru")

    response = boss.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert posts(provider, "/unsubscribe/remove") == ["ivan@example.ru"]
    sync_provider_suppression()
    assert not Unsubscribe.objects.exists()


def test_a_provider_that_refuses_the_removal_is_reported_to_staff(provider, boss):
    entry, _ = suppress("olga@example.org", source=Unsubscribe.Source.MANUAL)
    provider.post_status = 500
    response = boss.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}, follow=True
    )
    assert not Unsubscribe.objects.exists()
    assert "В списке smtp.bz адрес остался (API smtp.bz ответил 500)" in response.content.decode()


def test_a_new_address_goes_to_smtp_bz_at_once_when_the_push_is_on(
    provider, settings, django_capture_on_commit_callbacks
):
    settings.MAILER_SMTP_BZ_UNSUBSCRIBE_PUSH = True
    with django_capture_on_commit_callbacks(execute=True):
        suppress("Anna@Example.ru", source=Unsubscribe.Source.LINK)
        suppress("theirs@example.ru", source=Unsubscribe.Source.PROVIDER)  # came from them
    assert posts(provider, "/unsubscribe/add") == ["anna@example.ru"]


def test_nothing_goes_to_smtp_bz_when_the_push_is_off(provider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        suppress("anna@example.ru", source=Unsubscribe.Source.LINK)
    assert provider.requests == []
