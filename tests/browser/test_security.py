"""Staff HTML is inert in front of a superuser, and the admin works under its
Content-Security-Policy (issue 8, finding 1 and the CSP of finding 11), in headless Chromium.
Screenshots go to test-output/screenshots/.
"""

import pytest
from django.contrib.auth.models import Group, User

from backoffice.models import Company
from backoffice.permissions import MANAGER_GROUP
from mailer import services
from mailer.engine import sender
from mailer.models import Campaign
from mailer.suppression.tokens import make_token
from tests.browser.conftest import shot
from tests.conftest import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Secret-pass-1"

# Each piece reports itself if it ever runs: a dialog, a console line, a request to /pwned-N.
HOSTILE_BODY = (
    "<p>Здравствуйте, {{ name }}!</p>"
    # The first quote used to end the srcdoc attribute, and </iframe> the frame itself.
    '<p title="x"></iframe><script>alert("xss-1"); console.log("xss-ran-1"); fetch("/pwned-1")</script>'
    "<img src=\"/pwned-2.png\" onerror=\"alert('xss-2'); console.log('xss-ran-2')\">"
    "<img src=x onerror=\"console.log('xss-ran-3'); fetch('/pwned-3')\">"
    '<p title="a" style="x" onmouseover="console.log(\'xss-ran-4\')">"\'><svg onload="console.log(\'xss-ran-5\')">'
    "<script>\n"
    "fetch('/admin/auth/user/add/').then(r => r.text()).then(html => {\n"
    '  const token = html.match(/csrfmiddlewaretoken" value="([^"]+)/)[1];\n'
    "  const form = new FormData();\n"
    "  form.append('csrfmiddlewaretoken', token); form.append('username', 'pwned');\n"
    "  form.append('password1', 'Pwned-pass-123'); form.append('password2', 'Pwned-pass-123');\n"
    "  form.append('usable_password', 'true');\n"
    "  return fetch('/admin/auth/user/add/', {method: 'POST', body: form, credentials: 'include'});\n"
    "}).then(() => console.log('xss-ran-6'));\n"
    "</script>"
)


def make_user(username, *, superuser=False):
    if superuser:
        return User.objects.create_superuser(username, f"{username}@crm.example", PASSWORD)
    user = User.objects.create_user(username, f"{username}@crm.example", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER_GROUP))
    return user


class Watch:
    """Everything a page does that the test can see: console lines, dialogs, requests,
    script errors and Content-Security-Policy violations (of the page and its frames)."""

    REPORT_VIOLATIONS = """
        document.addEventListener("securitypolicyviolation", (e) => console.error(
            `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} `
            + `at ${e.sourceFile}:${e.lineNumber}`));
    """

    def __init__(self, page):
        self.console, self.dialogs, self.requests, self.errors = [], [], [], []
        page.add_init_script(self.REPORT_VIOLATIONS)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: self.requests.append(f"{request.method} {request.url}"))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def csp_problems(self):
        words = ("Content Security Policy", "Content-Security-Policy", "CSP violation", "Alpine Expression Error")
        return [line for line in self.console if any(word in line for word in words)] + self.errors


def log_in(page, live_server, username):
    page.goto(live_server.url + "/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")


# --- finding 1: a manager's hostile body in front of a superuser -------------------------------


def test_a_hostile_body_runs_nothing_in_a_superusers_browser(live_server, browser_page):
    page, admin = browser_page, live_server.url + "/admin/"
    make_user("olga")
    make_user("boss", superuser=True)

    log_in(page, live_server, "olga")  # the manager stores it through the form: it passes the checks
    page.goto(admin + "mailer/campaign/add/")
    page.fill("input[name=name]", "Опасная")
    page.fill("input[name=subject]", "Тема")
    page.fill("textarea[name=body_html]", HOSTILE_BODY)
    page.click("button[name=_continue]")
    page.wait_for_selector("text=Сохранено")
    campaign = Campaign.objects.get(name="Опасная")
    page.context.clear_cookies()

    log_in(page, live_server, "boss")
    watch = Watch(page)
    page.goto(admin + f"mailer/campaign/{campaign.pk}/change/")
    page.click("a:has-text('Предпросмотр')")
    page.locator("iframe[sandbox]").hover()
    page.wait_for_timeout(1500)  # time enough for any script, handler or fetch to show itself
    shot(page, "20-hostile-preview-as-superuser")

    assert watch.dialogs == []
    assert not [line for line in watch.console if "xss-ran" in line]
    assert not [request for request in watch.requests if "pwned" in request or "auth/user/add" in request]
    assert not [request for request in watch.requests if request.startswith("POST")]
    assert not User.objects.filter(username="pwned").exists()
    assert User.objects.count() == 2
    # The letter is shown, inside the frame.
    page.frame_locator("iframe[sandbox]").locator("text=Здравствуйте, Иван Иванов!").wait_for()
    # The admin page itself lost nothing to the body: the tabs after the preview are still there.
    assert page.locator("a:has-text('Служебное')").count() == 1


def test_an_ordinary_preview_shows_the_whole_letter(live_server, browser_page):
    page = browser_page
    owner = make_user("olga")
    campaign = make_campaign(
        owner, recipients=1, body_html='<h2 style="color:#2563eb">Скидка для {{ name }}</h2><p>До 31 декабря.</p>'
    )
    log_in(page, live_server, "olga")
    page.goto(live_server.url + f"/admin/mailer/campaign/{campaign.pk}/change/")
    page.click("a:has-text('Предпросмотр')")
    frame = page.frame_locator("iframe[sandbox]")
    assert frame.locator("h2").inner_text() == "Скидка для Клиент 0"
    assert frame.locator("h2").evaluate("h => getComputedStyle(h).color") == "rgb(37, 99, 235)"
    # The footer's style="…" no longer ends the attribute: the whole footer is inside the frame.
    assert "Отписаться от рассылки" in frame.locator("body").inner_text()
    # Not leaked onto the admin page: outside the frame it is only the plain-text part, as text.
    on_the_page = page.locator("text=Вы получили это письмо")
    assert on_the_page.count() == 1 and on_the_page.evaluate("e => e.id") == "campaign-preview-text"
    shot(page, "21-preview")


# --- the admin under its Content-Security-Policy --------------------------------------------------


def test_the_admin_works_under_its_content_security_policy(live_server, browser_page, mail_account):
    page, admin = browser_page, live_server.url + "/admin/"
    boss = make_user("boss", superuser=True)
    Company.objects.create(name="ООО Альфа", email="info@alpha.example", city="Казань")
    campaign = make_campaign(boss, recipients=2, name="Проверка CSP")
    watch = Watch(page)

    log_in(page, live_server, "boss")
    alpine_started(page)
    for path in [
        "",
        "mailer/campaign/",
        "mailer/campaignrecipient/",
        "mailer/campaignrecipient/import/",
        "mailer/campaignqueue/",
        "mailer/sendlog/",
        "mailer/unsubscribe/",
        "backoffice/notification/",
        "backoffice/company/",
        "mailer/campaign/add/",
    ]:
        page.goto(admin + path)
        alpine_started(page)

    page.goto(admin + f"mailer/campaign/{campaign.pk}/change/")
    alpine_started(page)
    # The tabs are Alpine's: each click must show its part of the page.
    page.click("a:text-is('Предпросмотр')")
    page.frame_locator("iframe[sandbox]").locator("text=Здравствуйте, Клиент 0!").wait_for()
    page.click("a:text-is('Служебное')")
    page.wait_for_selector("text=Черновик", state="visible")
    page.click("#tabs-items a[href='#recipients']")
    page.wait_for_selector("input[value='client1@example.com']", state="visible")
    shot(page, "22-csp-recipients-tab")
    page.click("#tabs-items a[href='#general']")
    page.click("a:text-is('Письмо')")
    page.wait_for_selector("textarea[name=body_html]", state="visible")
    for action, field in [
        ("Запустить", None),
        ("Тестовое письмо", "textarea[name=to]"),
        ("Добавить получателей", "textarea[name=lines]"),
        ("Из компаний", "input[name=search]"),
    ]:
        if action.startswith(("Добавить", "Из")):  # under «Ещё» in the toolbar
            page.click("a:has-text('Ещё')")
        page.click(f"a:has-text('{action}')")
        page.wait_for_selector("#dialog")
        if field:
            page.wait_for_selector(f"#dialog {field}")
        shot(page, f"22-csp-dialog-{action}")
        page.keyboard.press("Escape")
        page.goto(admin + f"mailer/campaign/{campaign.pk}/change/")

    page.goto(live_server.url + f"/unsubscribe/{make_token(campaign.recipients.first().pk)}/")
    page.wait_for_selector("text=Отписаться от рассылки?")
    shot(page, "23-unsubscribe-under-csp")

    assert watch.csp_problems() == []


def alpine_started(page):
    """Alpine removes x-cloak once it has evaluated the page's expressions."""
    page.wait_for_function("() => window.Alpine && !document.documentElement.hasAttribute('x-cloak')")


def test_a_campaign_paused_for_its_template_opens_and_says_why(live_server, browser_page, inbox, clock):
    page = browser_page
    owner = make_user("olga")
    campaign = make_campaign(owner, recipients=2, name="Сломанная")
    services.campaign_start(campaign=campaign, user=owner)
    Campaign.objects.filter(pk=campaign.pk).update(body_html="<p>{% url 'admin:index' %}</p>")
    sender.run_sender_pass()

    log_in(page, live_server, "olga")
    page.goto(live_server.url + f"/admin/mailer/campaign/{campaign.pk}/change/")
    reason = page.locator("#campaign-progress-reason")
    reason.locator("text=тег {% url %} в письмах запрещён").wait_for()
    assert reason.inner_text().endswith("Исправьте и нажмите «Возобновить».")
    page.click("a:has-text('Предпросмотр')")
    assert (
        page.locator("#campaign-preview-error")
        .inner_text()
        .startswith("Ошибка в шаблоне письма («Текст письма (HTML)», строка 1): тег {% url %} в письмах запрещён.")
    )
    shot(page, "24-paused-for-template-error")
