"""The campaign page whatever its body (issue 8, findings 1, 2, 4): save refuses templates
that would fail, the page always opens, the preview is inert, and a campaign the sender
paused says why on its page, in the queue and in the poll JSON."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from mailer import services
from mailer.engine import sender
from mailer.engine.compose import HTML_FOOTER
from mailer.models import Campaign
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

HOSTILE = (
    '</iframe><script>alert("xss")</script><img src=x onerror="alert(2)">'
    '<p title="a" onmouseover="alert(3)">"\' x=y</p>'
)


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's parser sees them."""

    def __init__(self, page):
        super().__init__()
        self.tags = []
        self.inline_scripts = []  # the text of every executable <script> without src
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self.tags.append((f"/{tag}", {}))

    def handle_data(self, data):
        tag, attrs = self.tags[-1] if self.tags else ("", {})
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json" and data.strip():
            self.inline_scripts.append(data)

    def all(self, tag):
        return [attrs for name, attrs in self.tags if name == tag]


def add_form(**fields):
    return {
        "name": "Новая",
        "subject": "Тема",
        "body_html": "<p>Текст</p>",
        "body_text": "",
        "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0,
        "recipients-TOTAL_FORMS": 0,
        "recipients-INITIAL_FORMS": 0,
        **fields,
    }


def change_page(client, campaign):
    return client.get(reverse("admin:mailer_campaign_change", args=[campaign.pk]))


# --- save refuses what would fail -----------------------------------------------------------


@pytest.mark.parametrize("body, named", [
    ("{% load cache %}{% cache 600 k %}{{ email }}{% endcache %}", "тег {% load %} в письмах запрещён"),
    ("<a href=\"{% url 'admin:index' %}\">x</a>", "тег {% url %} в письмах запрещён"),
    ("{% include 'missing.html' %}", "тег {% include %} в письмах запрещён"),
    ("{% for first, last in name %}{{ first }}{% endfor %}", "письмо не собирается: ValueError"),
])  # fmt: skip
def test_save_refuses_a_body_that_would_fail_naming_the_problem(client, manager_a, body, named):
    client.force_login(manager_a)
    response = client.post(reverse("admin:mailer_campaign_add"), add_form(body_html=body))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["body_html"]
    assert errors == [errors[0]] and errors[0].startswith("Ошибка в шаблоне письма («Текст письма (HTML)»")
    assert named in errors[0]
    assert not Campaign.objects.exists()


def test_save_puts_a_subject_error_on_the_subject(client, manager_a):
    client.force_login(manager_a)
    response = client.post(reverse("admin:mailer_campaign_add"), add_form(subject="{% now 'Y' %}"))
    assert "тег {% now %} в письмах запрещён" in response.context["adminform"].form.errors["subject"][0]


# --- the page opens whatever the body -------------------------------------------------------


@pytest.mark.parametrize("viewer", ["manager_a", "superuser"])
@pytest.mark.parametrize("body", ["{% url 'admin:index' %}", "{% for a, b in name %}{% endfor %}"])
def test_the_campaign_page_opens_for_a_broken_body_and_says_why(client, request, campaign_a, viewer, body):
    Campaign.objects.filter(pk=campaign_a.pk).update(body_html=body)  # stored before the checks
    client.force_login(request.getfixturevalue(viewer))
    response = change_page(client, campaign_a)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div id="campaign-preview-error" class="text-red-600">Ошибка в шаблоне письма' in page
    assert not Elements(page).all("iframe")


# --- the preview is inert and whole ---------------------------------------------------------


def test_the_preview_carries_the_whole_letter_inside_its_iframe(client, manager_a, campaign_a):
    client.force_login(manager_a)
    (iframe,) = Elements(change_page(client, campaign_a).content.decode()).all("iframe")
    assert iframe["sandbox"] == ""
    # The footer's style="…" used to end the attribute: the letter was cut after `<p style=`.
    assert iframe["srcdoc"] == "<p>Здравствуйте, Клиент 0!</p>" + HTML_FOOTER.replace("{{ unsubscribe_url }}", "#")


def test_a_hostile_body_stays_inside_the_iframe(client, manager_a, superuser):
    campaign = make_campaign(manager_a, recipients=1, body_html=HOSTILE)
    client.force_login(superuser)
    elements = Elements(change_page(client, campaign).content.decode())
    (iframe,) = elements.all("iframe")
    assert iframe["srcdoc"].startswith(HOSTILE)
    assert elements.inline_scripts == []
    assert not [attrs for _, attrs in elements.tags if "onerror" in attrs or "onmouseover" in attrs]


# --- a campaign paused by the sender says why -------------------------------------------------


def test_a_template_error_shows_on_the_page_in_the_queue_and_in_the_poll(client, manager_a, campaign_a, inbox, clock):
    services.campaign_start(campaign=campaign_a, user=manager_a)
    Campaign.objects.filter(pk=campaign_a.pk).update(body_html="{% url 'admin:index' %}")
    sender.run_sender_pass()
    client.force_login(manager_a)
    reason = (
        "Ошибка в шаблоне письма («Текст письма (HTML)», строка 1): тег {% url %} в письмах запрещён. "
        "Можно: if, for, with, comment, spaceless, firstof. Исправьте и нажмите «Возобновить»."
    )

    page = change_page(client, campaign_a).content.decode()
    assert f'<div id="campaign-progress-reason" class="text-sm mt-1 text-orange-600">{reason}</div>' in page.replace(
        "&laquo;", "«"
    ).replace("&raquo;", "»").replace("&#x27;", "'")
    queue_list = client.get(reverse("admin:mailer_campaignqueue_changelist")).content.decode()
    assert "тег {% url %} в письмах запрещён" in queue_list
    state = client.get(reverse("mailer_poll") + f"?campaign={campaign_a.pk}").json()["campaign"]
    assert state["pause_reason"] == "template_error"
    assert state["pause_detail"].startswith("Ошибка в шаблоне письма («Текст письма (HTML)», строка 1)")
    assert state["reason_text"] == reason
    assert state["queue_status"] == "paused"


# --- one fetch of the campaign per request --------------------------------------------------


def test_the_campaign_page_fetches_its_campaign_once_in_a_fixed_number_of_queries(
    client, manager_a, mail_account, clock, django_assert_num_queries
):
    campaign = make_campaign(manager_a, recipients=30)
    services.campaign_start(campaign=campaign, user=manager_a)
    client.force_login(manager_a)
    url = reverse("admin:mailer_campaign_change", args=[campaign.pk])
    client.get(url)  # the session's first request warms what later ones do not repeat

    # session, user, the campaign (with its queue and author), the user's permissions (2),
    # attachments, recipients (their kept counts, the tab's page, the preview's sample, the
    # addresses its picker suggests and the empty variables), the badge of notifications. Each
    # button used to fetch the campaign again (26).
    with django_assert_num_queries(12) as captured:
        assert client.get(url).status_code == 200
    campaign_reads = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "mailer_campaign"."id"')
    ]
    assert len(campaign_reads) == 1
