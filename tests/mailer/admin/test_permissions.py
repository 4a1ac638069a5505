"""Who sees what: anonymous, manager A, manager B and a superuser on every screen."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from mailer.models import CampaignQueue, GlobalMailAccount
from tests.conftest import msk

pytestmark = pytest.mark.django_db

ALLOW, DENY, HIDDEN, LOGIN = "200", "403", "hidden", "login"


def _screens(campaign_a):
    change = reverse("admin:mailer_campaign_change", args=[campaign_a.pk])
    return {
        "dashboard": reverse("admin:index"),
        "campaigns": reverse("admin:mailer_campaign_changelist"),
        "campaign A": change,
        "campaign A test-email dialog": reverse("admin:mailer_campaign_changelist") + f"{campaign_a.pk}/test-email/",
        "recipients": reverse("admin:mailer_campaignrecipient_changelist"),
        "recipients import": reverse("admin:mailer_campaignrecipient_import"),
        "recipients export": reverse("admin:mailer_campaignrecipient_export"),
        "queue": reverse("admin:mailer_campaignqueue_changelist"),
        "send log": reverse("admin:mailer_sendlog_changelist"),
        "companies": reverse("admin:backoffice_company_changelist"),
        "notifications": reverse("admin:backoffice_notification_changelist"),
        "unsubscribes": reverse("admin:mailer_unsubscribe_changelist"),
        "audit log": reverse("admin:admin_logentry_changelist"),
        "mail settings": reverse("admin:mailer_globalmailaccount_change", args=[GlobalMailAccount.load().pk]),
        "quota": reverse("admin:mailer_smtpbzquota_changelist"),
        "users": reverse("admin:auth_user_changelist"),
        "poll": reverse("mailer_poll") + f"?campaign={campaign_a.pk}",
    }


MATRIX = {
    #                                manager A  manager B  superuser
    "dashboard": (ALLOW, ALLOW, ALLOW),
    "campaigns": (ALLOW, ALLOW, ALLOW),
    "campaign A": (ALLOW, HIDDEN, ALLOW),
    "campaign A test-email dialog": (ALLOW, DENY, ALLOW),
    "recipients": (ALLOW, ALLOW, ALLOW),
    "recipients import": (ALLOW, ALLOW, ALLOW),
    "recipients export": (ALLOW, ALLOW, ALLOW),
    "queue": (ALLOW, ALLOW, ALLOW),
    "send log": (ALLOW, ALLOW, ALLOW),
    "companies": (ALLOW, ALLOW, ALLOW),
    "notifications": (ALLOW, ALLOW, ALLOW),
    "unsubscribes": (ALLOW, ALLOW, ALLOW),
    "audit log": (DENY, DENY, ALLOW),
    "mail settings": (DENY, DENY, ALLOW),
    "quota": (DENY, DENY, ALLOW),
    "users": (DENY, DENY, ALLOW),
    "poll": (ALLOW, HIDDEN, ALLOW),
}


def _outcome(response):
    if response.status_code == 302 and "/login/" in response["Location"]:
        return LOGIN
    if response.status_code in (302, 404):
        return HIDDEN  # admin answers "no such object" for rows outside the user's scope
    return str(response.status_code)


def test_anonymous_users_reach_only_the_login_page(client, campaign_a):
    outcomes = {name: _outcome(client.get(url)) for name, url in _screens(campaign_a).items()}
    assert outcomes == {name: LOGIN for name in outcomes}
    assert client.get(reverse("admin:login")).status_code == 200


@pytest.mark.parametrize("who", [0, 1, 2], ids=["manager A", "manager B", "superuser"])
def test_permission_matrix(client, who, manager_a, manager_b, superuser, campaign_a, campaign_b):
    client.force_login([manager_a, manager_b, superuser][who])
    outcomes = {name: _outcome(client.get(url)) for name, url in _screens(campaign_a).items()}
    assert outcomes == {name: expected[who] for name, expected in MATRIX.items()}


def test_managers_list_only_their_own_campaigns_and_recipients(client, manager_a, campaign_a, campaign_b):
    client.force_login(manager_a)
    campaigns = client.get(reverse("admin:mailer_campaign_changelist")).content.decode()
    recipients = client.get(reverse("admin:mailer_campaignrecipient_changelist")).content.decode()
    assert "Кампания А" in campaigns and "Кампания Б" not in campaigns
    assert "Кампания А" in recipients and "Кампания Б" not in recipients


def test_managers_see_only_their_own_queue_and_notifications(client, manager_a, manager_b, campaign_a, campaign_b):
    from backoffice.notifications import notify

    for campaign in (campaign_a, campaign_b):
        CampaignQueue.objects.create(campaign=campaign, queued_at=msk(2026, 11, 30, 9, 0))
    notify(user=manager_a, kind="x", title="Для А")
    notify(user=manager_b, kind="x", title="Для Б")
    client.force_login(manager_a)
    queue = client.get(reverse("admin:mailer_campaignqueue_changelist")).content.decode()
    notes = client.get(reverse("admin:backoffice_notification_changelist")).content.decode()
    assert "Кампания А" in queue and "Кампания Б" not in queue
    assert "Для А" in notes and "Для Б" not in notes


def test_manager_cannot_act_on_another_managers_campaign(client, manager_b, campaign_a, mail_account):
    client.force_login(manager_b)
    url = reverse("admin:mailer_campaign_changelist") + f"{campaign_a.pk}/start/"
    response = client.post(url, {"_form_submitted": "on"})
    assert response.status_code == 403
    campaign_a.refresh_from_db()
    assert campaign_a.status == "draft"
    assert not LogEntry.objects.exists()


def test_smtp_password_and_api_key_are_never_rendered(client, superuser):
    account = GlobalMailAccount.load()
    account.smtp_password = "s3cret-smtp-pass"
    account.smtp_bz_api_key = "s3cret-api-key"
    account.save()
    client.force_login(superuser)
    url = reverse("admin:mailer_globalmailaccount_change", args=[account.pk])
    page = client.get(url).content.decode()
    assert "s3cret-smtp-pass" not in page and "s3cret-api-key" not in page
    assert "Задан. Оставьте пустым, чтобы не менять." in page

    form = {
        "is_enabled": "on",
        "smtp_host": "smtp.example",
        "smtp_port": 2525,
        "smtp_username": "u",
        "smtp_password": "",
        "use_tls": "on",
        "from_email": "crm@example.ru",
        "from_name": "",
        "reply_to": "",
        "per_user_daily_limit": 100,
        "smtp_bz_api_key": "",
    }
    assert client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert (account.smtp_password, account.smtp_bz_api_key, account.smtp_port) == (
        "s3cret-smtp-pass",
        "s3cret-api-key",
        2525,
    )
