"""Demo data for `make run`: a few companies and a draft campaign a newcomer can start.

It goes into an empty database only, so a second run (or a real database) never gets it twice.
Addresses are under example.com/.org/.net, which RFC 2606 reserves: nothing can reach a person.
"""

from django.db import transaction

from backoffice.models import Company, Contact
from mailer import services
from mailer.models import Campaign, CampaignRecipient

CAMPAIGN_NAME = "Демо: приглашение на вебинар"
# Stored as is, the way a typo arrives from an old spreadsheet; the pipeline marks it failed.
INVALID_ADDRESS = "ivan.petrov@@example"

COMPANIES = [
    {
        "name": "ООО «Ромашка»",
        "email": "info@romashka.example.com",
        "city": "Москва",
        "industry": "Розничная торговля",
        "inn": "7701000001",
        "contacts": [("Анна Смирнова", "Директор по закупкам", "anna.smirnova@romashka.example.com")],
    },
    {
        "name": "АО «Северный ветер»",
        "email": "office@sever.example.org",
        "city": "Санкт-Петербург",
        "industry": "Логистика",
        "inn": "7801000002",
        "contacts": [("Олег Кузнецов", "Коммерческий директор", "oleg.kuznetsov@sever.example.org")],
    },
    {
        "name": "ИП Васильев",
        "email": "vasiliev@shop.example.net",
        "city": "Казань",
        "industry": "Услуги",
        "inn": "165000000003",
        "contacts": [("Пётр Васильев", "Владелец", "")],
    },
]
IN_CAMPAIGN = ("ООО «Ромашка»", "АО «Северный ветер»")  # the third is left for «Из компаний»

SUBJECT = "{{ company }}: приглашаем на вебинар о новых условиях поставок"
BODY_HTML = """<p>Здравствуйте, {{ name }}!</p>
<p>Приглашаем представителей компании «{{ company }}» на вебинар о новых условиях поставок
в четверг в 11:00 (МСК).</p>
<p>С уважением,<br>отдел продаж</p>"""


def load(*, owner):
    """Loads the demo once; returns the campaign, or None when the database has data already."""
    if Company.objects.exists() or Campaign.objects.exists():
        return None
    with transaction.atomic():
        companies = [_company(spec, owner) for spec in COMPANIES]
        campaign = Campaign.objects.create(name=CAMPAIGN_NAME, subject=SUBJECT, body_html=BODY_HTML, created_by=owner)
        chosen = Company.objects.filter(pk__in=[c.pk for c in companies if c.name in IN_CAMPAIGN])
        services.recipients_from_companies(campaign=campaign, companies=chosen)
        # Past the service on purpose: it would refuse the address, the pipeline must meet it.
        CampaignRecipient.objects.create(campaign=campaign, email=INVALID_ADDRESS, name="Иван Петров")
    return campaign


def _company(spec, owner):
    spec = dict(spec)
    contacts = spec.pop("contacts")
    company = Company.objects.create(manager=owner, **spec)
    Contact.objects.bulk_create(
        Contact(company=company, full_name=name, position=position, email=email) for name, position, email in contacts
    )
    return company
