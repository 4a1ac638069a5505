"""What staff can put into a template's data or body never breaks a page (issue 8 follow-up):
variables that are not a JSON object, and bodies nested deeper than the sandbox allows."""

import pytest
from django.urls import reverse

from mailer.models import Campaign, CampaignRecipient
from tests.mailer.admin.test_campaign_page import add_form, change_page

pytestmark = pytest.mark.django_db


def test_a_recipient_form_refuses_variables_that_are_not_an_object(client, manager_a, campaign_a):
    client.force_login(manager_a)
    data = {"campaign": campaign_a.pk, "email": "new@example.org", "name": "", "variables": "[1, 2]"}
    response = client.post(reverse("admin:mailer_campaignrecipient_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["variables"] == ['Переменные — объект JSON, например {"город": "Казань"}.']
    assert not CampaignRecipient.objects.filter(email="new@example.org").exists()


def test_the_campaign_page_opens_when_the_first_recipients_variables_are_a_list(client, manager_a, campaign_a):
    campaign_a.recipients.update(variables=[1, 2])  # stored before the form checked it
    client.force_login(manager_a)
    response = change_page(client, campaign_a)
    assert response.status_code == 200
    assert 'id="campaign-preview"' in response.content.decode()


def test_save_refuses_a_body_nested_too_deep_in_russian_not_with_a_500(client, manager_a):
    client.force_login(manager_a)
    nested = "".join(f"{{% with b{i}=name %}}" for i in range(500)) + "x" + "{% endwith %}" * 500
    response = client.post(reverse("admin:mailer_campaign_add"), add_form(body_html=nested))
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["body_html"]
    assert error == (
        "Ошибка в шаблоне письма («Текст письма (HTML)», строка 1): теги вложены глубже 30 уровней — упростите шаблон."
    )
    assert not Campaign.objects.exists()
