"""What a template can reach (issue 8 follow-up, H1): plain data by key and index, nothing
that Django would call or look up as an attribute, on every render path."""

import datetime

import pytest
from django.utils.safestring import mark_safe

from mailer import services
from mailer.engine import sender
from mailer.engine.compose import CampaignTemplate, recipient_context, sample_context
from mailer.models import Campaign
from tests.conftest import make_campaign


def render(body_html, *, subject="Тема", variables=None):
    context = recipient_context(
        email="ivan@example.com", name="Иван", company="", variables=variables or {}, unsubscribe_url="#"
    )
    return CampaignTemplate(subject=subject, body_html=body_html, body_text="-").render(context)


def body(rendered):
    return rendered.html.split("\n<p style=")[0]  # without the footer


def test_methods_of_values_are_never_called():
    data = {"items": ["a", "b", ["c"]], "data": {"k": "v"}, "n": 5}
    rendered = render(
        "{{ items.pop }}|{{ data.popitem }}|{{ data.clear }}|{{ items.copy }}|{{ name.upper }}"
        "|{{ name.encode }}|{{ name.split }}|{{ n.to_bytes }}|{{ n.real }}",
        variables=data,
    )
    assert body(rendered) == "||||||||"
    assert data == {"items": ["a", "b", ["c"]], "data": {"k": "v"}, "n": 5}


def test_keys_and_indexes_still_work_and_dicts_still_iterate():
    rendered = render(
        "{{ items.0 }}{{ items.2.0 }}{{ data.k }}{{ name.0 }}{{ items.9 }}"
        "{% for key, value in data.items %}[{{ key }}={{ value }}]{% endfor %}{{ data.keys|join:',' }}",
        variables={"items": ["a", "b", ["c"]], "data": {"k": "v", "m": "w"}},
    )
    assert body(rendered) == "acvИ[k=v][m=w]k,m"


def test_what_the_subject_does_to_a_value_the_body_does_not_see():
    rendered = render("{{ items|length }}", subject="{{ items.pop }}", variables={"items": ["a", "b"]})
    assert body(rendered) == "2"


def test_the_context_holds_plain_copies_only():
    context = recipient_context(
        email="a@example.org",
        name=mark_safe("<b>Иван</b>"),  # a SafeString from code must not skip escaping
        company=None,
        variables={"when": datetime.date(2026, 5, 1), "deep": [[[[[[[[[[[["x"]]]]]]]]]]]], "obj": object},
        unsubscribe_url="#",
    )
    assert type(context["name"]) is str
    assert context["obj"] == "<class 'object'>"
    assert context["when"] == datetime.date(2026, 5, 1)
    rendered = CampaignTemplate(subject="s", body_html="{{ name }} {{ when|date:'d.m.Y' }}").render(context)
    assert body(rendered) == "&lt;b&gt;Иван&lt;/b&gt; 01.05.2026"


@pytest.mark.parametrize("variables", [[1, 2], "текст", 42])
def test_variables_that_are_not_an_object_are_no_variables(variables):
    context = recipient_context(email="a@example.org", name="", company="", variables=variables, unsubscribe_url="#")
    assert context == {"email": "a@example.org", "name": "", "company": "", "unsubscribe_url": "#"}


@pytest.mark.django_db
def test_a_recipient_whose_variables_are_a_list_neither_stalls_the_sender_nor_the_preview(
    clock, inbox, owner, other_owner
):
    # The admin's JSON field stores `[1, 2]` as it is: recipient_context crashed the pass on
    # `**[1, 2]` before the claim, so the queue stayed first and every campaign waited.
    first = make_campaign(owner, emails=["a@example.org"], name="Первая")
    other = make_campaign(other_owner, emails=["b@example.org"], name="Вторая")
    first.recipients.update(variables=[1, 2])
    assert sample_context(first, email="", unsubscribe_url="#")["email"] == "a@example.org"  # what previews use

    services.campaign_start(campaign=first, user=owner)
    services.campaign_start(campaign=other, user=other_owner)

    sender.run_sender_pass()

    assert sorted(inbox.addresses()) == ["a@example.org", "b@example.org"]
    assert set(Campaign.objects.values_list("status", flat=True)) == {"sent"}
