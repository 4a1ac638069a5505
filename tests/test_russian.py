"""Russian that reads right where Django and unfold build sentences from verbose names."""

import pytest
from django.urls import reverse

from mailer.russian import accusative, add_another, counted
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("number", "said"),
    [
        (1, "1 получатель"),
        (3, "3 получателя"),
        (5, "5 получателей"),
        (11, "11 получателей"),
        (21, "21 получатель"),
        (112, "112 получателей"),
        (0, "0 получателей"),
    ],
)
def test_counts_agree(number, said):
    assert counted(number, "получатель") == said


def test_declined_forms_and_an_unknown_noun():
    assert (accusative("кампания"), add_another("вложение"), add_another("получатель"), add_another("контакт")) == (
        "кампанию",
        "Добавить ещё одно вложение",
        "Добавить ещё одного получателя",
        "Добавить ещё один контакт",
    )
    assert (counted(2, "штука"), accusative("штука"), add_another("штука")) == ("2 штука", "штука", "Добавить: штука")


def test_the_campaign_page_reads_right(client, owner):
    owner.is_superuser = True
    owner.save()
    campaign = make_campaign(owner, recipients=5)
    client.force_login(owner)
    page = client.get(reverse("admin:mailer_campaign_change", args=[campaign.pk])).content.decode()
    assert "Удалить кампанию" in page and "Удалить кампания" not in page
    assert "Добавить ещё одно вложение" in page
    assert "5 получателей" in page
    listing = client.get(reverse("admin:mailer_campaign_changelist")).content.decode()
    assert "1 кампания" in listing
    deleting = client.get(reverse("admin:mailer_campaign_delete", args=[campaign.pk])).content.decode()
    assert "Удалить: кампания «Осенняя рассылка»? Вместе с этим удалится всё, что ниже:" in deleting
    assert "Да, удалить" in deleting


def test_saving_says_it_without_a_gender(client, owner):
    owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    response = client.post(
        reverse("admin:mailer_campaign_add"),
        {
            "name": "Весенняя",
            "subject": "Тема",
            "body_html": "<p>Текст</p>",
            "body_text": "",
            "attachments-TOTAL_FORMS": "0",
            "attachments-INITIAL_FORMS": "0",
            "recipients-TOTAL_FORMS": "0",
            "recipients-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and said[0].startswith("Сохранено: кампания «") and "был" not in said[0]
