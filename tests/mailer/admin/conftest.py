"""People and data for the back-office tests: two managers and a superuser."""

import pytest
from django.contrib.auth.models import Group, User

from backoffice.permissions import MANAGER_GROUP
from tests.conftest import make_campaign


def _manager(username):
    user = User.objects.create_user(username, f"{username}@crm.example", "pass", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER_GROUP))
    return user


@pytest.fixture
def manager_a(db):
    return _manager("manager_a")


@pytest.fixture
def manager_b(db):
    return _manager("manager_b")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("boss", "boss@crm.example", "pass")


@pytest.fixture
def campaign_a(manager_a):
    return make_campaign(manager_a, recipients=3, name="Кампания А")


@pytest.fixture
def campaign_b(manager_b):
    return make_campaign(manager_b, recipients=2, name="Кампания Б")


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def import_uploads(settings, tmp_path):
    """This test's own directory for imports' waiting files; lists what it holds."""
    settings.MAILER_IMPORT_UPLOAD_DIR = tmp_path / "import-uploads"

    def stored():
        folder = settings.MAILER_IMPORT_UPLOAD_DIR
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    return stored
