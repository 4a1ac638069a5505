"""Message building: personalisation, escaping, the footer, tokens."""

import pytest

from mailer.engine.compose import CampaignTemplate, html_to_text, recipient_context
from mailer.suppression import tokens


def render(body_html, body_text="", subject="Тема", **context):
    template = CampaignTemplate(subject=subject, body_html=body_html, body_text=body_text)
    values = recipient_context(
        email="x@example.com",
        name=context.pop("name", "Иван"),
        company="",
        variables=context,
        unsubscribe_url="https://crm.example/unsubscribe/t/",
    )
    return template.render(values)


def test_variables_are_escaped_in_html_but_not_in_text_or_subject():
    rendered = render("<p>{{ name }}</p>", subject="Для {{ name }}", name="<Иван & Ко>")
    assert "&lt;Иван &amp; Ко&gt;" in rendered.html
    assert "<Иван & Ко>" in rendered.text
    assert rendered.subject == "Для <Иван & Ко>"


def test_subject_never_spans_lines():
    assert render("<p>x</p>", subject="Строка\nвторая  {{ name }}").subject == "Строка вторая Иван"


def test_footer_is_added_once_and_only_when_the_template_has_no_link():
    own_link = render('<a href="{{ unsubscribe_url }}">Отписка</a>')
    assert own_link.html.count("https://crm.example/unsubscribe/t/") == 1
    assert "Отписаться от рассылки" not in own_link.html
    derived = render("<p>Привет</p>")
    assert "Отписаться от рассылки (https://crm.example/unsubscribe/t/)" in derived.text
    written = render("<p>Привет</p>", body_text="Привет")
    assert "Отписаться от рассылки: https://crm.example/unsubscribe/t/" in written.text


def test_text_body_is_used_when_given():
    rendered = render("<p>HTML</p>", body_text="Текст для {{ name }}")
    assert rendered.text.startswith("Текст для Иван")


def test_html_to_text_keeps_paragraphs():
    assert html_to_text("<h1>Привет</h1><p>Раз&nbsp;два</p><p>три<br>четыре</p>") == "Привет\nРаз два\nтри\nчетыре\n"


def test_fixed_names_win_over_import_columns():
    context = recipient_context(
        email="a@b.ru", name="Иван", company="", variables={"name": "X", "city": "Тула"}, unsubscribe_url="u"
    )
    assert (context["name"], context["city"], context["unsubscribe_url"]) == ("Иван", "Тула", "u")


def test_token_round_trip_and_tampering():
    token = tokens.make_token(42)
    assert tokens.read_token(token) == tokens.UnsubscribeToken(recipient_id=42, is_test=False)
    assert tokens.read_token(tokens.make_test_token(7)).is_test
    for bad in (token[:-1], token[:10], token.replace(token[0], "Z", 1), "garbage", ""):
        with pytest.raises(tokens.BadToken):
            tokens.read_token(bad)


def test_token_from_another_salt_is_refused():
    from django.core import signing

    foreign = signing.Signer(salt="something.else").sign_object({"r": 42})
    with pytest.raises(tokens.BadToken):
        tokens.read_token(foreign)
