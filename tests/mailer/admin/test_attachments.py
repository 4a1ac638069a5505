"""Attachments (issue 8, finding 10): no public URL; a download view for the campaign's owner
and superusers only, always as a download; allowed types and a size limit on upload, in
Russian. The sending pipeline still reads them (tests/mailer/engine/test_sender.py)."""

import importlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import clear_url_caches, reverse

import config.urls
from mailer.models import Campaign, CampaignAttachment

pytestmark = pytest.mark.django_db

HOSTILE = b"<script>fetch('/admin/auth/user/add/')</script>"


@pytest.fixture
def price(campaign_a):
    """In the test settings' MEDIA_ROOT, where a /media/ route would have served it from."""
    attachment = campaign_a.attachments.create(file=ContentFile(b"%PDF-1.4 price", name="price.pdf"))
    yield attachment
    attachment.file.storage.delete(attachment.file.name)


@pytest.fixture
def uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def campaign_form(name, *uploads):
    form = {
        "name": name,
        "subject": "Тема",
        "body_html": "<p>Прайс во вложении</p>",
        "body_text": "",
        "attachments-TOTAL_FORMS": len(uploads),
        "attachments-INITIAL_FORMS": 0,
        "recipients-TOTAL_FORMS": 0,
        "recipients-INITIAL_FORMS": 0,
    }
    form.update({f"attachments-{i}-file": upload for i, upload in enumerate(uploads)})
    return form


@pytest.fixture
def urls_of_a_debug_process(settings):
    """The URLconf as a DEBUG process (`make run`) builds it at import."""
    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def test_an_attachment_has_no_public_url_even_with_debug_on(
    client, price, manager_a, settings, urls_of_a_debug_process
):
    stored = price.file.name
    assert price.file.path == str(settings.MEDIA_ROOT / stored) and stored.startswith("attachments/")
    for path in (f"/media/{stored}", f"/{stored}"):
        assert Client().get(path).status_code == 404  # nothing serves the files themselves
        client.force_login(manager_a)
        assert client.get(path).status_code == 404


def test_the_owner_downloads_it_as_a_file_never_as_a_page(client, manager_a, price, settings):
    assert settings.DEBUG is False  # the request cycle production has
    client.force_login(manager_a)
    response = client.get(price.file.url)

    assert price.file.url == reverse("mailer_attachment", args=[price.file.name])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 price"
    assert response["Content-Disposition"] == 'attachment; filename="price.pdf"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_old_html_attachment_is_downloaded_not_run(client, manager_a, campaign_a, uploads_in_tmp):
    """Uploaded before the type check existed: it still never opens as a page."""
    page = campaign_a.attachments.create(file=ContentFile(HOSTILE, name="invite.html"))
    client.force_login(manager_a)
    response = client.get(page.file.url)
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("who, status", [("manager_b", 404), ("superuser", 200), ("anonymous", 302)])
def test_only_staff_who_may_see_the_campaign_get_it(client, price, who, status, request):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    response = client.get(price.file.url)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/admin/login/")


def test_the_campaign_page_links_to_the_download_view(client, manager_a, campaign_a, price):
    client.force_login(manager_a)
    page = client.get(reverse("admin:mailer_campaign_change", args=[campaign_a.pk])).content.decode()
    assert f'href="{price.file.url}"' in page
    assert "/media/" not in page


@pytest.mark.parametrize("name", ["invite.html", "logo.svg", "run.js", "noextension"])
def test_page_like_and_unknown_types_are_refused_in_russian(client, manager_a, name):
    client.force_login(manager_a)
    response = client.post(
        reverse("admin:mailer_campaign_add"), campaign_form("С вложением", SimpleUploadedFile(name, HOSTILE))
    )
    page = response.content.decode()
    assert response.status_code == 200  # the form again, nothing saved
    assert f"Файл «{name}» нельзя приложить к письму" in page
    assert "Можно: csv, doc, docx" in page
    assert not Campaign.objects.exists() and not CampaignAttachment.objects.exists()


def test_html_stays_refused_even_if_an_operator_lists_it(client, manager_a, settings):
    settings.MAILER_ATTACHMENT_EXTENSIONS = ["pdf", "html"]
    client.force_login(manager_a)
    page = client.post(
        reverse("admin:mailer_campaign_add"), campaign_form("С вложением", SimpleUploadedFile("a.html", HOSTILE))
    ).content.decode()
    assert "тип .html не разрешён. Можно: pdf." in page


def test_a_file_over_the_size_limit_is_refused_in_russian(client, manager_a, settings):
    settings.MAILER_ATTACHMENT_MAX_BYTES = 1024 * 1024
    client.force_login(manager_a)
    big = SimpleUploadedFile("price.pdf", b"%PDF" + b"0" * (1024 * 1024 + 1))
    page = client.post(reverse("admin:mailer_campaign_add"), campaign_form("Большое", big)).content.decode()
    assert "Файл «price.pdf» слишком большой: 1,0\xa0МБ, можно не больше 1,0\xa0МБ." in page
    assert not CampaignAttachment.objects.exists()


def test_allowed_files_within_the_limit_are_kept(client, manager_a, uploads_in_tmp):
    client.force_login(manager_a)
    uploads = [SimpleUploadedFile("price.pdf", b"%PDF-1.4"), SimpleUploadedFile("list.XLSX", b"PK")]
    assert client.post(reverse("admin:mailer_campaign_add"), campaign_form("Два", *uploads)).status_code == 302
    assert Campaign.objects.get(name="Два").attachments.count() == 2


def test_a_file_missing_on_disk_is_a_404_not_a_500(client, manager_a, price):
    price.file.storage.delete(price.file.name)
    client.force_login(manager_a)
    assert client.get(price.file.url).status_code == 404
