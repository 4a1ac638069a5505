"""The render budget holds inside expressions and at compile time too (issue 8 follow-up,
H2): values built by filters without being written, lists grown by `add`, huge or deeply
nested templates, and the HTML→text twin of a large body. Figures: bench/templates.py."""

import datetime
import random

import pytest
from django.template.base import tag_re

from mailer.engine.compose import CampaignTemplate, html_to_text, recipient_context
from mailer.engine.plain_text import strip_markup
from mailer.engine.template_lexer import split_tags
from mailer.engine.templating import CampaignTemplateError


def render(body_html, **variables):
    context = recipient_context(
        email="ivan@example.com", name="Иван", company="", variables=variables, unsubscribe_url="#"
    )
    return CampaignTemplate(subject="Тема", body_html=body_html).render(context)


def refusal(body_html, **variables):
    with pytest.raises(CampaignTemplateError) as error:
        render(body_html, **variables)
    return str(error.value)


@pytest.fixture
def cap_50k(settings):
    settings.MAILER_TEMPLATE_MAX_OUTPUT_BYTES = 50_000


# --- values built without being written --------------------------------------------------------


def test_a_list_grown_by_add_counts_by_its_text_not_by_its_length(cap_50k):
    # 1 000 references to a 1 KB string: 1 024 items passed a cap of 50 000 items, and
    # writing `{{ l }}` built the whole text first (with 20 doublings: a gigabyte).
    doubling = "".join("{% with l=l|add:l %}" for _ in range(10)) + "{{ l|length }}" + "{% endwith %}" * 10
    assert "фильтр «add» даёт текст длиннее 50 КБ." in refusal(doubling, l=["x" * 1000])


def test_join_of_nested_lists_counts_their_text(cap_50k):
    assert "фильтр «join» даёт текст длиннее 50 КБ." in refusal("{{ l|join:'' }}", l=[["x" * 1000] * 60])


def test_values_kept_by_with_count_against_what_a_message_may_build(cap_50k):
    # Each value is under the cap and none is written: 15 × 40 KB held at once.
    names = " ".join(f"a{i}=s|add:s" for i in range(15))
    text = refusal(f"{{% with {names} %}}ok{{% endwith %}}", s="x" * 20_000)
    assert "фильтры шаблона строят больше 500 КБ текста — упростите {% with %} и цепочки фильтров." in text


def test_an_ordinary_letter_stays_far_below_the_build_budget(cap_50k):
    rows = [f"Позиция {i}" for i in range(500)]
    body = "{% for row in rows %}{% if row|lower|length > 3 %}{{ row|upper }}{% endif %}{% endfor %}"
    rendered = render(body, rows=rows)
    assert "ПОЗИЦИЯ 499" in rendered.html


# --- compiling: size, nesting, time ------------------------------------------------------------


def test_a_template_longer_than_the_output_cap_is_refused_before_it_is_compiled(cap_50k):
    assert "шаблон длиннее 50 КБ — сократите его." in refusal("{{ name }}" * 6000)


def test_deep_nesting_is_refused_in_russian_wherever_the_stack_is():
    # 500 nested {% with %} raised a TypeError out of inspect (a 500 on save), 100 compiled
    # or not depending on how deep the caller's stack already was.
    nested = "".join(f"{{% with b{i}=name %}}" for i in range(500)) + "x" + "{% endwith %}" * 500
    assert "теги вложены глубже 30 уровней — упростите шаблон." in refusal(nested)
    assert render("{% if name %}" * 30 + "x" + "{% endif %}" * 30).html.startswith("x")


def test_compiling_has_the_time_budget_too(settings):
    settings.MAILER_TEMPLATE_RENDER_SECONDS = 0
    assert "шаблон разбирается дольше 0 с — сократите его." in refusal("{{ name|upper }}")


# --- the text twin and striptags: linear, whatever the markup ----------------------------------


def test_layered_markup_gets_a_text_twin_in_one_pass():
    # html.parser ran once per layer (up to 50 passes over the whole body, 15+ s for 1 MB).
    layered = "<" * 40 + "b>" * 40
    assert html_to_text(layered * 10) == ("<" * 39 + "b>" * 39) * 10 + "\n"


def test_the_text_twin_keeps_what_strip_tags_kept():
    html = '<!-- скрыто --><p>1 < 2 &amp; 3 > 2</p><!--[if mso]><b>mso</b><![endif]--><a href="https://x.ru/">сайт</a>'
    assert html_to_text(html) == "1 < 2 & 3 > 2\nсайт (https://x.ru/)\n"
    assert strip_markup("<b>жирный</b> &amp; <br/>текст <!-- нет") == "жирный &amp; текст <!-- нет"


def test_striptags_is_the_linear_one_and_still_escapes_data():
    rendered = render("{{ s|striptags }}", s="<<b>script>alert(1)<</b>/script>")
    assert rendered.html.startswith("&lt;script&gt;alert(1)&lt;/script&gt;")


def test_links_keep_their_address_found_piece_by_piece():
    html = (
        '<p><a href="https://x.ru/a">Сайт</a> · <a class="b" href=\'https://x.ru/b\'><b>жирная</b></a>'
        ' · <a href="https://x.ru/c">https://x.ru/c</a> · <a href="https://x.ru/d">без конца'
        ' · <a name="top">якорь</a> · <a href="x href="y">z</a></p>'
    )
    assert html_to_text(html) == (
        "Сайт (https://x.ru/a) · жирная (https://x.ru/b) · https://x.ru/c · без конца · якорь · z (x href=)\n"
    )


def test_the_linear_split_gives_what_djangos_tag_regex_gives():
    rng = random.Random(8)
    sources = ["".join(rng.choice("{}%#\na ") for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    sources += ["{{ a }}{% if b %}{# c #}{% endif %}", "{{ a\n}}{{ b }}", "{{{ a }}}", "{%}%}", "{{ " * 50]
    assert [split_tags(source) for source in sources] == [tag_re.split(source) for source in sources]


def test_a_line_of_unclosed_openers_is_text():
    # Django's split rescanned the line for each `{{`: 900 KB compiled for hours.
    rendered = render("{{ " * 30_000 + "\n{{ name }}")
    assert rendered.html.startswith("{{ " * 30_000 + "\nИван")


def test_a_long_filter_chain_is_refused_before_django_checks_each_filter():
    assert "в выражении больше 20 фильтров — упростите его." in refusal("{{ name" + "|upper" * 21 + " }}")
    assert render("{{ name" + "|upper" * 20 + " }}").html.startswith("ИВАН")


def test_a_date_format_is_refused_before_it_is_expanded(cap_50k):
    # «r» writes 31 characters: 2 000 of them would build 62 KB before the cap could look.
    when = datetime.date(2026, 5, 1)
    assert "фильтр «date» даёт текст длиннее 50 КБ." in refusal("{{ when|date:fmt }}", when=when, fmt="r" * 2000)
    assert render("{{ when|date:'d.m.Y' }}", when=when).html.startswith("01.05.2026")
