"""The sandbox staff templates run in (issue 8, findings 2–4): an allow-list of tags and
filters, and renders bounded in output, loop iterations and time."""

import pytest

from mailer.engine.compose import CampaignTemplate, recipient_context
from mailer.engine.template_library import ALLOWED_FILTERS, ALLOWED_TAGS
from mailer.engine.templating import CampaignTemplateError
from mailer.exceptions import MailerError

LONG = "x" * 1000


def render(body_html, *, subject="Тема", body_text="", **variables):
    context = recipient_context(
        email="ivan@example.com",
        name="Иван",
        company="ООО Ромашка",
        variables=variables,
        unsubscribe_url="https://crm.example/u/t/",
    )
    return CampaignTemplate(subject=subject, body_html=body_html, body_text=body_text).render(context)


def refusal(body_html, **kwargs):
    with pytest.raises(CampaignTemplateError) as error:
        render(body_html, **kwargs)
    return str(error.value)


# --- what may be used ---------------------------------------------------------------------


def test_the_allowed_tags_and_filters_render_a_real_letter():
    rendered = render(
        "{% comment %}черновик{% endcomment %}"
        "<p>Здравствуйте, {{ name|upper }}!</p>"
        "{% if city %}<p>Город: {{ city|title }}</p>{% endif %}"
        "{% with total=items|length %}<p>{{ total }} позици{{ total|pluralize:'я,и' }}</p>{% endwith %}"
        "<ul>{% for item in items %}<li>{{ forloop.counter }}. {{ item|truncatechars:12 }}</li>"
        "{% empty %}<li>нет</li>{% endfor %}</ul>"
        "<p>{% firstof manager 'Отдел продаж' %} · {{ items|join:', ' }} · {{ 2|add:3 }}</p>",
        city="казань",
        items=["Стол письменный дубовый", "Стул"],
    )
    assert "<p>Здравствуйте, ИВАН!</p><p>Город: Казань</p><p>2 позиции</p>" in rendered.html
    assert "<li>1. Стол письме…</li><li>2. Стул</li>" in rendered.html
    assert "<p>Отдел продаж · Стол письменный дубовый, Стул · 5</p>" in rendered.html
    assert "черновик" not in rendered.html


# --- finding 4: no tag library loads, nothing outside the allow-list compiles ---------------


@pytest.mark.parametrize("source, tag", [
    ("{% load cache %}{% cache 600 k %}{{ email }}{% endcache %}", "load"),
    ("{% cache 600 k %}{{ email }}{% endcache %}", "cache"),
    ("{% url 'admin:index' %}", "url"),
    ("{% include 'admin/base.html' %}", "include"),
    ("{% extends 'admin/base.html' %}", "extends"),
    ("{% csrf_token %}", "csrf_token"),
    ("{% debug %}", "debug"),
    ("{% now 'Y' %}", "now"),
    ("{% lorem 100000000 w %}", "lorem"),
    ("{% templatetag openblock %}", "templatetag"),
    ("{% autoescape off %}{{ name }}{% endautoescape %}", "autoescape"),
])  # fmt: skip
def test_tags_outside_the_allow_list_are_refused_by_name(source, tag):
    text = refusal(f"<p>Привет</p>\n{source}")
    assert text.startswith("Ошибка в шаблоне письма («Текст письма (HTML)», строка 2): ")
    assert f"тег {{% {tag} %}} в письмах запрещён. Можно: {', '.join(ALLOWED_TAGS)}." in text


@pytest.mark.parametrize(
    "name",
    [
        "ljust",
        "rjust",
        "center",
        "stringformat",
        "floatformat",
        "force_escape",
        "safe",
        "pprint",
        "make_list",
        "urlize",
    ],
)
def test_filters_outside_the_allow_list_are_refused_by_name(name):
    text = refusal(f"{{{{ name|{name}:200000000 }}}}")
    assert f"фильтр «{name}» в письмах запрещён. Можно: {', '.join(ALLOWED_FILTERS)}." in text


def test_the_subject_and_the_text_part_are_sandboxed_too():
    assert refusal("<p>x</p>", subject="{% now 'Y' %}").startswith("Ошибка в шаблоне письма («Тема письма», строка 1)")
    assert "«Текст письма (без оформления)»" in refusal("<p>x</p>", body_text="{% url 'admin:index' %}")


def test_syntax_mistakes_name_the_tag_and_what_is_missing():
    assert "тег {% if %} не закрыт — нет {% endif %}." in refusal("{% if name %}<p>")
    assert "{% endfor %} не на своём месте, ожидается {% elif %} или {% else %} или {% endif %}." in refusal(
        "{% if name %}{% endfor %}"
    )


def test_common_django_syntax_errors_are_said_in_russian():
    assert refusal("{% if %}x{% endif %}").endswith("): в {% if %} не хватает условия.")
    assert refusal("<p>\n{{ name|upper) }}</p>").endswith("строка 2): не удалось разобрать «)» в «name|upper)».")
    assert refusal("{{ }}").endswith("): пустая переменная {{ }}.")


def test_the_domain_error_is_a_mailer_error_naming_the_field():
    with pytest.raises(MailerError) as error:
        render("<p>x</p>", body_text="{% load cache %}")
    assert error.value.part == "body_text"


# --- finding 3: rendering is bounded while it happens --------------------------------------


def test_nested_loops_over_a_long_string_stop_at_the_iteration_budget():
    text = refusal("{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}", s=LONG)
    assert "в циклах шаблона больше 100000 повторов" in text


def test_loops_that_write_stop_at_the_output_cap(settings):
    settings.MAILER_TEMPLATE_MAX_OUTPUT_BYTES = 50_000
    text = refusal("{% for a in s %}{% for b in s %}{{ name }}{% endfor %}{% endfor %}", s="x" * 300)
    assert text.endswith("письмо получается больше 50 КБ (проверьте циклы и фильтры, которые удлиняют текст).")


def test_with_doubling_is_refused_before_the_string_is_built():
    doubling = "".join("{% with s=s|add:s %}" for _ in range(25)) + "{{ s }}" + "{% endwith %}" * 25
    assert "фильтр «add» даёт текст длиннее 1000 КБ." in refusal(doubling, s="xxxxxxxx")


def test_join_of_a_long_string_with_itself_is_refused_before_it_is_built():
    assert "фильтр «join» даёт текст длиннее 1000 КБ." in refusal("{{ s|join:s }}", s="x" * 2000)


def test_the_output_cap_counts_bytes_and_is_a_setting(settings):
    settings.MAILER_TEMPLATE_MAX_OUTPUT_BYTES = 2000
    assert render("я" * 500).html.startswith("я" * 500)  # 1 000 bytes and the footer
    assert "письмо получается больше 2 КБ" in refusal("я" * 1001)  # 2 002 bytes


def test_the_time_budget_is_checked_while_rendering(settings):
    # Compiled with the ordinary budget first: on a busy machine compiling alone can take
    # longer than 1 ms, and that is the compile budget's refusal, not this one.
    template = CampaignTemplate(subject="Тема", body_html="{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}")
    settings.MAILER_TEMPLATE_RENDER_SECONDS = 0.001
    context = recipient_context(
        email="ivan@example.com",
        name="Иван",
        company="",
        variables={"s": "x" * 300},
        unsubscribe_url="https://crm.example/u/t/",
    )
    with pytest.raises(CampaignTemplateError) as error:
        template.render(context)
    assert "письмо собирается дольше 0.001 с — упростите циклы и условия шаблона." in str(error.value)


def test_any_failure_while_rendering_becomes_the_domain_error():
    # Compiles, then ForNode raises ValueError for a string item it cannot unpack.
    text = refusal("{% for a, b in name %}{{ a }}{% endfor %}")
    assert text.startswith("Ошибка в шаблоне письма («Текст письма (HTML)»): письмо не собирается: ValueError:")


def test_markup_too_broken_for_django_strip_tags_still_gets_a_text_part():
    # strip_tags refused it (SuspiciousOperation); the linear stripper just leaves it as text.
    assert render("<a " * 300_000).text.startswith("<a <a <a")
