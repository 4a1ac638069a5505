"""Warnings before start: which printed variables are empty for how many waiting recipients."""

import pytest
from django.contrib.auth.models import User

from mailer.models import CampaignRecipient
from mailer.template_variables import empty_variables, printed_variables
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_printed_variables_skip_defaults_loop_names_and_what_the_sender_fills():
    assert printed_variables(
        "Для {{ company.name|upper }}",
        '<p>{{ name|default:"коллеги" }}, {{ city }}</p>{% for item in items %}{{ item }}{% endfor %}'
        '{% with x=city %}{{ x }}{% endwith %}<a href="{{ unsubscribe_url }}">{{ email }}</a>',
        "{% if broken",
    ) == {"company", "city"}


def test_empty_names_and_columns_are_counted_among_waiting_recipients(owner):
    campaign = make_campaign(
        owner,
        emails=["a@example.com", "b@example.com", "c@example.com", "gone@example.com"],
        subject="Предложение",
        body_html="<p>Здравствуйте, {{ name }}! Ждём вас в г. {{ city }}. {{ company }}</p>",
    )
    campaign.recipients.filter(email="a@example.com").update(variables={"city": "Казань", "company": "Альфа"})
    campaign.recipients.filter(email="b@example.com").update(name="", variables={"city": ""})
    campaign.recipients.filter(email="gone@example.com").update(status=CampaignRecipient.Status.UNSUBSCRIBED)

    warnings = {w.name: (w.empty, w.waiting) for w in empty_variables(campaign)}
    assert warnings == {"city": (2, 3), "company": (2, 3), "name": (1, 3)}
    [city] = [w for w in empty_variables(campaign) if w.name == "city"]
    assert city.text == (
        "{{ city }} пусто у 2 из 3 получателей — на его месте будет пустое место. "
        'Можно задать замену: {{ city|default:"…" }}.'
    )


def test_a_default_silences_the_warning(owner):
    campaign = make_campaign(owner, emails=["a@example.com"], subject="Тема", body_html='{{ name|default:"коллеги" }}')
    campaign.recipients.update(name="")
    assert empty_variables(campaign) == []


# A variable name is a JSON key, never a query: «city__isnull» or «x__in» (valid template
# names) once reached the ORM as lookups and the campaign page answered 500.
ODD_NAMES = ["city__isnull", "city__in", "city__regex", "city__contains", "city__gt", "company__isnull"]


def test_variable_names_that_read_like_lookups_are_counted_as_keys(owner):
    body = "<p>" + " ".join(f"{{{{ {name} }}}}" for name in ODD_NAMES) + "</p>"
    campaign = make_campaign(owner, emails=["a@example.com", "b@example.com"], body_html=body)
    campaign.recipients.filter(email="a@example.com").update(variables=dict.fromkeys(ODD_NAMES, "есть"))
    warnings = {w.name: (w.empty, w.waiting) for w in empty_variables(campaign)}
    assert warnings == {**dict.fromkeys(ODD_NAMES, (1, 2)), "company": (2, 2)}


def test_the_campaign_page_opens_whatever_the_template_prints(client, owner):
    campaign = make_campaign(owner, recipients=2, body_html="<p>{{ city__isnull }}</p>")
    client.force_login(User.objects.create_superuser("boss", "boss@crm.example", "pass"))
    page = client.get(f"/admin/mailer/campaign/{campaign.pk}/change/")
    assert page.status_code == 200
    assert "{{ city__isnull }} пусто у 2 из 2 получателей" in page.content.decode()
