"""Checklist 13 end to end: a real message received over SMTP, its RFC 2369 / RFC 8058
headers, the public page, one-click, the next campaign skipping the address; tampered
tokens; test sends; the per-IP rate limit; normalisation properties (hypothesis)."""

import io
import logging
import re
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mailer import services
from mailer.addresses import is_valid_email, normalize_email
from mailer.checks import check_public_base_url_is_https
from mailer.engine import sender
from mailer.models import Campaign, CampaignRecipient, Unsubscribe
from mailer.pii import extra_fields
from mailer.suppression import suppress, tokens
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://crm.example.ru"
MAILTO = "unsubscribe@example.ru"
ADDRESS = "ivan.petrov@example.com"
MASKED = "i***v@example.com"
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def public_https(settings):
    settings.MAILER_PUBLIC_BASE_URL = PUBLIC_URL
    settings.MAILER_UNSUBSCRIBE_MAILTO = MAILTO


def send_campaign(owner, emails, name="Осенняя рассылка"):
    campaign = make_campaign(owner, emails=emails, name=name)
    services.campaign_start(campaign=campaign, user=owner)
    sender.run_sender_pass()
    return campaign


def list_unsubscribe_targets(message):
    """RFC 2369: a comma-separated list of URLs, each in angle brackets."""
    value = str(message["List-Unsubscribe"])
    assert re.fullmatch(r"\s*<[^<>\s]+>(\s*,\s*<[^<>\s]+>)*\s*", value), value
    return re.findall(r"<([^<>]+)>", value)


def raw_header(raw, name):
    """A header exactly as sent, unfolded: what a mail client reads, with no decoding of
    RFC 2047 encoded-words (Python's parser would decode them and hide the fault)."""
    match = re.search(rb"^" + name.encode() + rb":(.*?)\r?\n(?![ \t])", raw, re.MULTILINE | re.DOTALL)
    assert match, name
    return re.sub(rb"\r?\n[ \t]+", b" ", match.group(1)).decode("ascii").strip()


def one_click(path, **extra):
    """What a mail client does (RFC 8058): a bare POST, no cookies, no CSRF token."""
    client = Client(enforce_csrf_checks=True)
    assert not client.cookies
    return client.post(path, data=ONE_CLICK, content_type="application/x-www-form-urlencoded", **extra)


def page_text(response):
    return response.content.decode()


# --- 13.1 the full flow ---------------------------------------------------------------------


def test_full_flow_from_received_message_to_skipped_next_campaign(clock, inbox, owner, public_https, caplog):
    first = send_campaign(owner, [ADDRESS])

    [received] = inbox.received
    message = received.message
    wire = re.findall(rb"^List-Unsubscribe(?:-Post)?:.*?\r\n(?![ \t])", received.raw, re.M | re.S)
    print("\n" + b"".join(wire).decode())  # as received, for the closing note
    https_url, mailto = list_unsubscribe_targets(message)
    on_the_wire = raw_header(received.raw, "List-Unsubscribe")
    assert on_the_wire == f"<{https_url}>, <{mailto}>"  # plain ASCII, no encoded-words
    assert raw_header(received.raw, "List-Unsubscribe-Post") == ONE_CLICK
    assert https_url.startswith(f"{PUBLIC_URL}/unsubscribe/") and https_url.endswith("/")
    assert mailto == f"mailto:{MAILTO}?subject=unsubscribe"
    assert message["List-Unsubscribe-Post"] == ONE_CLICK  # RFC 8058: exactly this value
    assert https_url in message.get_body(("html",)).get_content()  # the footer's link
    assert https_url in message.get_body(("plain",)).get_content()
    assert ADDRESS not in https_url  # the token names the recipient, not the address
    path = urlsplit(https_url).path

    # A link scanner (or the person) opens the link: a confirm page, nothing changes.
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path, secure=True)
    assert page.status_code == 200
    assert "Отписаться от рассылки?" in page_text(page)
    assert MASKED in page_text(page) and ADDRESS not in page_text(page)
    assert page["Cache-Control"].startswith("max-age=0")
    assert not Unsubscribe.objects.exists()

    with caplog.at_level(logging.INFO, logger="mailer"):
        done = one_click(path, secure=True)
    assert done.status_code == 200
    assert "Вы отписаны" in page_text(done) and ADDRESS not in page_text(done)
    entry = Unsubscribe.objects.get()
    assert (entry.email, entry.source, entry.campaign) == (ADDRESS, Unsubscribe.Source.ONE_CLICK, first)

    again = one_click(path, secure=True)
    assert again.status_code == 200 and "Вы уже отписаны" in page_text(again)
    assert "Вы уже отписаны" in page_text(browser.get(path, secure=True))
    assert Unsubscribe.objects.count() == 1

    second = send_campaign(owner, [ADDRESS, "olga@example.org"], name="Зимняя рассылка")
    assert inbox.addresses() == [ADDRESS, "olga@example.org"]  # the first campaign's, then one
    assert second.recipients.get(email=ADDRESS).status == CampaignRecipient.Status.UNSUBSCRIBED
    second.refresh_from_db()
    assert second.status == Campaign.Status.SENT
    assert all(ADDRESS not in _record_text(r) for r in caplog.records)


def test_the_page_button_unsubscribes_with_source_link(clock, inbox, owner):
    send_campaign(owner, [ADDRESS])
    [path] = [urlsplit(u).path for u in list_unsubscribe_targets(inbox.received[0].message)]
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(path).status_code == 200

    response = browser.post(path)  # the page's form: an empty POST

    assert response.status_code == 200 and "Вы отписаны" in page_text(response)
    assert Unsubscribe.objects.get().source == Unsubscribe.Source.LINK


def test_one_click_as_multipart_form_data_also_counts(clock, inbox, owner):
    send_campaign(owner, [ADDRESS])
    [url] = list_unsubscribe_targets(inbox.received[0].message)
    response = Client(enforce_csrf_checks=True).post(urlsplit(url).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Unsubscribe.objects.get().source == Unsubscribe.Source.ONE_CLICK


def test_without_mailto_setting_only_the_https_link_is_offered(clock, inbox, owner, settings):
    settings.MAILER_PUBLIC_BASE_URL = PUBLIC_URL
    settings.MAILER_UNSUBSCRIBE_MAILTO = ""
    send_campaign(owner, [ADDRESS])
    [url] = list_unsubscribe_targets(inbox.received[0].message)
    assert url.startswith(f"{PUBLIC_URL}/unsubscribe/")


# --- 13.2 a new campaign with someone who left ------------------------------------------------


def test_recipients_added_later_are_marked_at_once_whatever_the_spelling(clock, inbox, owner):
    suppress(ADDRESS, source=Unsubscribe.Source.ONE_CLICK)
    campaign = make_campaign(owner, emails=[])
    added = services.add_recipients(
        campaign=campaign,
        recipients=[
            services.NewRecipient(email="  Ivan.Petrov@Example.COM "),
            services.NewRecipient(email="olga@example.org"),
        ],
    )
    assert added.unsubscribed == 1
    services.campaign_start(campaign=campaign, user=owner)
    sender.run_sender_pass()

    assert inbox.addresses() == ["olga@example.org"]
    assert campaign.recipients.get(email=ADDRESS).status == CampaignRecipient.Status.UNSUBSCRIBED


def test_unsubscribing_marks_waiting_recipients_of_other_campaigns(clock, inbox, owner):
    send_campaign(owner, [ADDRESS])
    draft = make_campaign(owner, emails=[ADDRESS, "olga@example.org"], name="Черновик")
    [url] = list_unsubscribe_targets(inbox.received[0].message)

    one_click(urlsplit(url).path)

    assert dict(draft.recipients.values_list("email", "status")) == {
        ADDRESS: CampaignRecipient.Status.UNSUBSCRIBED,
        "olga@example.org": CampaignRecipient.Status.PENDING,
    }


# --- tokens that must change nothing -----------------------------------------------------------


def _tampered_tokens(recipient_id):
    token = tokens.make_token(recipient_id)
    payload, _, signature = token.rpartition(":")
    other = tokens.make_token(recipient_id + 1).rpartition(":")[0]
    return {
        "truncated": token[:-4],
        "signature changed": payload + ":" + signature[::-1],
        "payload changed": other + ":" + signature,
        "other salt": signing.Signer(salt="mailer.other").sign_object({"r": recipient_id}),
        "other secret key": signing.Signer(key="another-secret", salt=tokens.SALT).sign_object({"r": recipient_id}),
        "not a token": "hello",
    }


@pytest.mark.parametrize("kind", list(_tampered_tokens(1)))
@pytest.mark.parametrize("method", ["get", "one_click"])
def test_tampered_tokens_get_a_russian_400_and_change_nothing(clock, inbox, owner, kind, method):
    campaign = send_campaign(owner, [ADDRESS])
    recipient = campaign.recipients.get()
    path = f"/unsubscribe/{_tampered_tokens(recipient.pk)[kind]}/"

    response = one_click(path) if method == "one_click" else Client().get(path)

    assert response.status_code == 400
    assert "Ссылка недействительна" in page_text(response)
    assert not Unsubscribe.objects.exists()
    assert campaign.recipients.get().status == CampaignRecipient.Status.SENT


def test_an_authentic_token_of_a_deleted_campaign_says_so(clock, inbox, owner):
    campaign = send_campaign(owner, [ADDRESS])
    path = f"/unsubscribe/{tokens.make_token(campaign.recipients.get().pk)}/"
    campaign.delete()

    response = one_click(path)

    assert response.status_code == 410 and "Ссылка устарела" in page_text(response)
    assert not Unsubscribe.objects.exists()


def test_a_test_send_link_shows_the_page_and_unsubscribes_nobody(clock, inbox, owner):
    campaign = make_campaign(owner, emails=[ADDRESS])
    services.send_test_email(campaign=campaign, user=owner, to="tester@example.net")
    [url, *_] = list_unsubscribe_targets(inbox.received[0].message)
    path = urlsplit(url).path

    for response in (Client().get(path), one_click(path), Client().post(path)):
        assert response.status_code == 200
        assert "Это тестовое письмо" in page_text(response)
    assert not Unsubscribe.objects.exists()
    assert campaign.recipients.get().status == CampaignRecipient.Status.PENDING


def test_other_methods_are_refused(clock, inbox, owner):
    campaign = send_campaign(owner, [ADDRESS])
    path = f"/unsubscribe/{tokens.make_token(campaign.recipients.get().pk)}/"
    assert Client().put(path).status_code == 405
    assert not Unsubscribe.objects.exists()


# --- the per-IP rate limit: bad tokens only (issue 8, finding 8) --------------------------------

JUNK = "/unsubscribe/junk-token/"


@pytest.fixture
def valid_path(clock, inbox, owner, settings):
    settings.MAILER_UNSUBSCRIBE_RATE_LIMIT = "3/m"
    campaign = send_campaign(owner, [ADDRESS])
    return f"/unsubscribe/{tokens.make_token(campaign.recipients.get().pk)}/"


def test_junk_tokens_never_lock_out_a_valid_one_click_from_the_same_ip(valid_path):
    codes = [one_click(JUNK, REMOTE_ADDR="203.0.113.7").status_code for _ in range(6)]
    refused = Client().get(JUNK, REMOTE_ADDR="203.0.113.7")

    assert codes == [400, 400, 400, 429, 429, 429]
    assert refused.status_code == 429 and "Слишком много запросов" in page_text(refused)
    done = one_click(valid_path, REMOTE_ADDR="203.0.113.7")
    assert done.status_code == 200 and "Вы отписаны" in page_text(done)
    assert Unsubscribe.objects.get().source == Unsubscribe.Source.ONE_CLICK


def test_valid_tokens_use_no_bucket(valid_path):
    opened = [Client().get(valid_path, REMOTE_ADDR="203.0.113.7").status_code for _ in range(10)]
    assert opened == [200] * 10
    assert one_click(JUNK, REMOTE_ADDR="203.0.113.7").status_code == 400  # its bucket is still empty


def test_each_client_has_its_own_bucket(valid_path):
    for _ in range(4):
        one_click(JUNK, REMOTE_ADDR="203.0.113.7")
    assert one_click(JUNK, REMOTE_ADDR="198.51.100.1").status_code == 400


def test_behind_the_proxy_the_bucket_is_the_clients_not_the_proxys(valid_path, settings):
    """docker-compose's proxy connects from one address and names the client in X-Real-IP."""
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    via_proxy = {"REMOTE_ADDR": "172.18.0.5"}
    for _ in range(4):
        one_click(JUNK, HTTP_X_REAL_IP="203.0.113.7", **via_proxy)
    assert one_click(JUNK, HTTP_X_REAL_IP="203.0.113.7", **via_proxy).status_code == 429
    assert one_click(JUNK, HTTP_X_REAL_IP="198.51.100.1", **via_proxy).status_code == 400  # another person


def test_with_redis_down_bad_tokens_still_get_400_and_valid_ones_work(clock, owner, redis_down, caplog):
    campaign = make_campaign(owner, emails=[ADDRESS])
    path = f"/unsubscribe/{tokens.make_token(campaign.recipients.get().pk)}/"

    with caplog.at_level(logging.ERROR, logger="mailer"):
        junk = one_click(JUNK)
        response = one_click(path)

    assert junk.status_code == 400
    assert response.status_code == 200 and "Вы отписаны" in page_text(response)
    assert Unsubscribe.objects.get().email == ADDRESS
    messages = [r.getMessage() for r in caplog.records]
    assert "Unsubscribe rate limit unavailable, bad tokens not counted" in messages


def test_django_ratelimit_checks_pass_with_w001_silenced_on_purpose(settings):
    out = io.StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "django_ratelimit" not in out.getvalue()
    assert "django_ratelimit.W001" in settings.SILENCED_SYSTEM_CHECKS


@pytest.mark.parametrize("url, warned", [("http://127.0.0.1:8000", True), ("https://crm.example.ru", False)])
def test_deploy_check_wants_an_https_public_url(settings, url, warned):
    settings.MAILER_PUBLIC_BASE_URL = url
    assert [w.id for w in check_public_base_url_is_https(None)] == (["mailer.W001"] if warned else [])


# --- logging ---------------------------------------------------------------------------------------


def test_an_unsubscribe_is_logged_after_commit_with_a_masked_address(
    clock, owner, caplog, django_capture_on_commit_callbacks
):
    campaign = make_campaign(owner, emails=[ADDRESS])
    path = f"/unsubscribe/{tokens.make_token(campaign.recipients.get().pk)}/"

    with caplog.at_level(logging.INFO, logger="mailer"), django_capture_on_commit_callbacks(execute=True):
        one_click(path)

    [record] = [r for r in caplog.records if r.getMessage() == "Address added to the suppression list"]
    assert (record.email_masked, record.source, record.campaign_id) == (MASKED, "one_click", campaign.pk)
    assert ADDRESS not in _record_text(record)


def _record_text(record):
    return " ".join([record.getMessage(), *(str(v) for v in extra_fields(record).values())])


# --- normalisation (hypothesis) ----------------------------------------------------------------

addresses = st.emails().filter(lambda e: len(e) <= 254)
padding = st.text(alphabet=" \t\r\n", max_size=3)


@st.composite
def spellings(draw, email):
    """The same address as people type it: any letter case, stray whitespace around."""
    upper = draw(st.lists(st.booleans(), min_size=len(email), max_size=len(email)))
    cased = "".join(c.upper() if up else c.lower() for c, up in zip(email, upper, strict=True))
    return draw(padding) + cased + draw(padding)


@st.composite
def address_and_two_spellings(draw):
    email = draw(addresses)
    return email, draw(spellings(email)), draw(spellings(email))


@given(address_and_two_spellings())
@hypothesis_settings(max_examples=200, database=None)
def test_normalising_ignores_case_and_surrounding_whitespace(case):
    email, one, other = case
    assert normalize_email(one) == normalize_email(other) == email.lower()
    assert normalize_email(normalize_email(one)) == normalize_email(one)


@given(address_and_two_spellings())
@hypothesis_settings(
    max_examples=40, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_two_spellings_are_one_person_on_the_list(owner, case):
    email, one, other = case
    assume(is_valid_email(email.lower()))
    with transaction.atomic():  # each example rolls back to a clean list
        recipient = make_campaign(owner, emails=[email.lower()]).recipients.get()
        _, first_created = suppress(one, source=Unsubscribe.Source.MANUAL)
        entry, second_created = suppress(other, source=Unsubscribe.Source.IMPORT)

        assert (first_created, second_created) == (True, False)
        assert list(Unsubscribe.objects.values_list("email", flat=True)) == [email.lower()]
        assert entry.source == Unsubscribe.Source.MANUAL  # the first entry is kept
        recipient.refresh_from_db()
        assert recipient.status == CampaignRecipient.Status.UNSUBSCRIBED
        transaction.set_rollback(True)
