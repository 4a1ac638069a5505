"""«Дублировать»: a new draft with the text and copies of the attachments, optionally the
recipients (waiting again, checked against the suppression list)."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from mailer import services
from mailer.models import Campaign, CampaignRecipient, Unsubscribe
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

Recipient = CampaignRecipient.Status


@pytest.fixture
def sent_campaign(owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = make_campaign(
        owner,
        emails=["anna@example.com", "boris@example.com", "gone@example.com"],
        status=Campaign.Status.SENT,
        body_text="Здравствуйте, {{ name }}!",
    )
    campaign.recipients.update(status=Recipient.SENT)
    campaign.recipients.filter(email="anna@example.com").update(variables={"city": "Казань"})
    campaign.attachments.create(file=ContentFile(b"%PDF-1.4 price list", name="price.pdf"))
    return campaign


def test_a_copy_is_a_draft_of_its_author_with_the_text_and_its_own_attachment_files(sent_campaign, other_owner):
    copy = services.campaign_duplicate(campaign=sent_campaign, user=other_owner)
    assert (copy.name, copy.status, copy.created_by) == ("Копия: Осенняя рассылка", "draft", other_owner)
    assert (copy.subject, copy.body_html, copy.body_text) == (
        sent_campaign.subject,
        sent_campaign.body_html,
        sent_campaign.body_text,
    )
    assert not copy.recipients.exists()
    [original], [copied] = sent_campaign.attachments.all(), copy.attachments.all()
    assert str(copied) == "price.pdf" and copied.file.name != original.file.name
    with copied.file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.4 price list"
    original.file.delete()  # the copy does not share the file
    assert copied.file.storage.exists(copied.file.name)


def test_recipients_come_along_waiting_again_and_the_unsubscribed_are_marked(sent_campaign, owner):
    Unsubscribe.objects.create(email="gone@example.com", source=Unsubscribe.Source.LINK)
    copy = services.campaign_duplicate(campaign=sent_campaign, user=owner, with_recipients=True)
    assert dict(copy.recipients.values_list("email", "status")) == {
        "anna@example.com": Recipient.PENDING,
        "boris@example.com": Recipient.PENDING,
        "gone@example.com": Recipient.UNSUBSCRIBED,
    }
    assert copy.recipients.get(email="anna@example.com").variables == {"city": "Казань"}
    assert sent_campaign.recipients.filter(status=Recipient.SENT).count() == 3


def test_the_button_opens_the_copy(client, sent_campaign, owner):
    owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    url = reverse("admin:mailer_campaign_change", args=[sent_campaign.pk]).removesuffix("change/") + "duplicate/"
    response = client.post(url, {"_form_submitted": "on", "with_recipients": "on"})
    copy = Campaign.objects.exclude(pk=sent_campaign.pk).get()
    assert response["Location"] == reverse("admin:mailer_campaign_change", args=[copy.pk])
    assert copy.recipients.count() == 3
    said = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert said == ["Создан черновик «Копия: Осенняя рассылка»."]


def test_a_campaign_whose_attachment_file_is_gone_is_refused_in_russian_not_a_500(client, sent_campaign, owner):
    sent_campaign.attachments.get().file.storage.delete(sent_campaign.attachments.get().file.name)
    owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    url = reverse("admin:mailer_campaign_change", args=[sent_campaign.pk]).removesuffix("change/") + "duplicate/"
    response = client.post(url, {"_form_submitted": "on"})
    assert response.status_code == 302
    said = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert said == ["Файла вложения «price.pdf» нет в хранилище."]
    assert Campaign.objects.count() == 1
