"""«Новый менеджер» in one form, and the login and user pages in Russian."""

import pytest
from django.contrib.auth.models import User

from backoffice.permissions import MANAGER_GROUP

pytestmark = pytest.mark.django_db


def test_a_manager_is_created_in_one_form(client):
    client.force_login(User.objects.create_superuser("boss", "boss@crm.example", "pass"))
    page = client.get("/admin/auth/user/add/").content.decode()
    assert "Добавление: пользователь" in page and "After you" not in page and "Менеджер" in page
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "olga",
            "first_name": "Ольга",
            "last_name": "Смирнова",
            "email": "olga@crm.example",
            "is_manager": "on",
            "usable_password": "true",
            "password1": "Secret-pass-123",
            "password2": "Secret-pass-123",
        },
    )
    assert response.status_code == 302
    olga = User.objects.get(username="olga")
    assert (olga.is_staff, olga.email, olga.get_full_name()) == (True, "olga@crm.example", "Ольга Смирнова")
    assert list(olga.groups.values_list("name", flat=True)) == [MANAGER_GROUP]
    client.force_login(olga)
    assert client.get("/admin/mailer/campaign/").status_code == 200


def test_the_login_page_is_in_russian(client):
    page = client.get("/admin/login/").content.decode()
    assert "Вход в" in page and "Welcome back" not in page and "Return to site" not in page


def test_permissions_are_named_in_russian(client):
    from django.contrib.auth.models import Permission

    assert Permission.objects.get(codename="add_campaign").name == "Добавление: кампания"
    assert Permission.objects.get(codename="view_user").name == "Просмотр: пользователь"
    boss = User.objects.create_superuser("boss", "boss@crm.example", "pass")
    client.force_login(boss)
    page = client.get(f"/admin/auth/user/{boss.pk}/change/").content.decode()
    assert "Can add" not in page and "Изменение: кампания" in page
