"""Every action staff (or a command) take on a campaign: checks, then transitions.

Admin actions, commands and tests call these. Each first asks the campaign's predicate (the
one its button shows by), then the other conditions, and refuses with a MailerError whose
message is the Russian text staff read; the state changes themselves are mailer.transitions.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from mailer import stored_secrets, transitions
from mailer.addresses import is_valid_email, normalize_email
from mailer.engine import limits, one_off, policy
from mailer.engine.compose import read_attachments, sample_context, trial_render
from mailer.exceptions import MailerError
from mailer.models import Campaign, CampaignRecipient, GlobalMailAccount, SendLog
from mailer.suppression import suppressed_among
from mailer.suppression.tokens import make_test_token, unsubscribe_url

Status = Campaign.Status
Recipient = CampaignRecipient.Status

NO_RECIPIENTS = "Нет писем в очереди: в кампании нет получателей, ожидающих отправки."
ACCOUNT_DISABLED = "Отправка выключена: включите почтовый аккаунт в «Настройках почты»."
MAX_SCHEDULE_AHEAD = timedelta(days=365)


@transaction.atomic
def campaign_start(*, campaign: Campaign, user) -> Campaign:
    """Draft → `ready`, with its queue created or re-armed for the sender."""
    campaign = _locked(campaign)
    _require(campaign.can_start, campaign, action="запустить")
    now = timezone.now()
    _require_startable(campaign, user=user, now=now)
    transitions.rearm(campaign=campaign, now=now)
    return campaign


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, user, at: datetime) -> Campaign:
    """Draft → `ready`, its queue waiting until `at` (DeferReason.SCHEDULED): checked,
    throttled and counted as a start now; every gate still applies when the time comes."""
    campaign = _locked(campaign)
    _require(campaign.can_start, campaign, action="запланировать")
    now = timezone.now()
    if timezone.is_naive(at):
        raise MailerError("Укажите время с часовым поясом.")
    if at <= now:
        raise MailerError("Время отправки уже прошло: выберите время в будущем или нажмите «Запустить».")
    if at > now + MAX_SCHEDULE_AHEAD:
        raise MailerError(f"Запланировать можно не дальше чем на {MAX_SCHEDULE_AHEAD.days} дней вперёд.")
    _require_startable(campaign, user=user, now=now)
    transitions.rearm(campaign=campaign, now=now, scheduled_at=at)
    campaign.refresh_from_db(fields=["status", "scheduled_at"])
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign, user) -> Campaign:
    """A planned campaign that has not begun becomes a draft again (text editable)."""
    campaign = _locked(campaign)
    _require(campaign.is_scheduled, campaign, action="снять с расписания")
    if not transitions.unschedule(campaign_id=campaign.pk):
        raise MailerError(f"Кампания «{campaign.name}» уже начала отправку — поставьте её на паузу.")
    campaign.refresh_from_db(fields=["status", "scheduled_at"])
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user) -> Campaign:
    """Ready or sending → `paused`: the sender stops before its next message."""
    campaign = _locked(campaign)
    _require(campaign.can_pause, campaign, action="поставить на паузу")
    if not transitions.pause(campaign_id=campaign.pk):
        raise MailerError(f"Кампания «{campaign.name}» только что завершила отправку — ставить на паузу нечего.")
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user) -> Campaign:
    """Paused (by staff, the circuit breaker or a template error) or deferred → back to the
    sender now.

    The gates are checked again on the next pass; a deferral that still holds comes back
    with the same reason and time (and no second notification). A template that still does
    not render is refused here rather than paused again by the sender.
    """
    campaign = _locked(campaign)
    if not campaign.can_resume:
        raise MailerError(f"Кампания «{campaign.name}» не на паузе и не отложена — возобновлять нечего.")
    back_to = None
    if campaign.status == Status.PAUSED:
        _require_account_enabled()
        if not _recipient_counts(campaign)["pending"]:
            raise MailerError(NO_RECIPIENTS)
        _require_renders(campaign)
        read_attachments(campaign)
        back_to = Status.SENDING if _has_outcomes(campaign) else Status.READY
    transitions.resume(campaign_id=campaign.pk, status=back_to)
    campaign.refresh_from_db(fields=["status"])
    return campaign


@transaction.atomic
def campaign_retry_failed(*, campaign: Campaign, user, include_unknown: bool = False) -> int:
    """Puts recipients whose failure was temporary back in the queue, and those whose outcome
    is unknown only when staff ask (`include_unknown`: they may get the message twice).
    Permanent failures (a rejected or invalid address) are not retried."""
    campaign = _locked(campaign)
    _require(campaign.can_retry_failed, campaign, action="повторить")
    _require_account_enabled()
    retried = transitions.requeue_failed(campaign_id=campaign.pk, now=timezone.now(), include_unknown=include_unknown)
    if not retried:
        left = dict(campaign.recipients.values_list("status").annotate(n=Count("id")).order_by())
        refusal = "Нет писем для повтора."
        if left.get(Recipient.FAILED):
            refusal += f" {left[Recipient.FAILED]} с постоянными ошибками (адрес отклонён) не повторяются."
        if left.get(Recipient.UNKNOWN):
            refusal += (
                f" {left[Recipient.UNKNOWN]} с неизвестным исходом (письмо могло дойти) повторяются, "
                "только если отметить «включая неизвестные»."
            )
        raise MailerError(refusal)
    return retried


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign, user, with_recipients: bool = False) -> Campaign:
    """A new draft «Копия: …» of `user` with the subject, both bodies and copies of the
    attachment files; with its recipients, all waiting again and checked against the
    suppression list as new ones are."""
    # Read first: a file gone from storage refuses in Russian before anything is created.
    attachments = read_attachments(campaign)
    copy = Campaign.objects.create(
        name=f"Копия: {campaign.name}"[: Campaign._meta.get_field("name").max_length],
        subject=campaign.subject,
        body_html=campaign.body_html,
        body_text=campaign.body_text,
        created_by=user,
    )
    for attachment in attachments:
        # A folder of the copy's own, so recipients see the file name they saw before.
        copy.attachments.create(file=ContentFile(attachment.content, name=f"copy-{copy.pk}/{attachment.filename}"))
    if with_recipients:
        add_recipients(
            campaign=copy,
            recipients=[
                NewRecipient(email=r.email, name=r.name, company=r.company, contact=r.contact, variables=r.variables)
                for r in campaign.recipients.select_related("company", "contact")
            ],
        )
    return copy


MAX_TEST_ADDRESSES = 5


def send_test_emails(
    *, campaign: Campaign, user, to: list[str], as_recipient: CampaignRecipient | None = None
) -> list[SendLog]:
    """A test to up to MAX_TEST_ADDRESSES addresses, each one a test e-mail of its own (the
    throttle and the hourly rate count every one); all are checked before the first goes."""
    addresses = list(dict.fromkeys(normalize_email(address) for address in to if address.strip()))
    if not addresses:
        raise MailerError("Укажите адрес для тестового письма.")
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise MailerError(f"Тестовое письмо можно отправить не больше чем на {MAX_TEST_ADDRESSES} адресов сразу.")
    if bad := [address for address in addresses if not is_valid_email(address)]:
        raise MailerError(f"Некорректные адреса: {', '.join(f'«{a}»' for a in bad)}.")
    logs = []
    for address in addresses:
        try:
            logs.append(send_test_email(campaign=campaign, user=user, to=address, as_recipient=as_recipient))
        except MailerError as refusal:
            if not logs:
                raise
            raise MailerError(f"Отправлено {len(logs)} из {len(addresses)}. {refusal}") from refusal
    return logs


def send_test_email(*, campaign: Campaign, user, to: str, as_recipient: CampaignRecipient | None = None) -> SendLog:
    """Sends one test message now, with `as_recipient`'s data (else the first recipient's);
    counts in the hourly rate and writes SendLog(kind=test)."""
    to = normalize_email(to)
    if not is_valid_email(to):
        raise MailerError(f"«{to}» — некорректный адрес e-mail.")
    account = _require_account_enabled()
    _require_renders(campaign)
    now = timezone.now()
    limits.throttle("send_test_email", user=user, now=now)
    count = limits.count_hourly_send(now=now)
    limit = settings.MAILER_RATE_PER_HOUR
    if count is not None and count > limit:
        limits.uncount_hourly_send(now=now)
        raise MailerError(
            f"Достигнут лимит {limit} писем в час. "
            f"Тестовое письмо можно отправить после {policy.local_time(policy.next_hour_start(now=now)):%H:%M}."
        )
    log = one_off.send_test_message(campaign=campaign, account=account, to=to, recipient=as_recipient)
    if log.status != log.Status.SENT:
        raise MailerError(f"Тестовое письмо не отправлено: {log.error}")
    return log


@dataclass
class AddedRecipients:
    created: int = 0
    duplicates: int = 0
    unsubscribed: int = 0
    invalid: list = field(default_factory=list)  # the rejected addresses, as given

    def summary(self):
        parts = [f"добавлено получателей: {self.created}"]
        if self.duplicates:
            parts.append(f"повторы пропущены: {self.duplicates}")
        if self.unsubscribed:
            parts.append(f"отписались ранее (не получат писем): {self.unsubscribed}")
        if self.invalid:
            parts.append(f"некорректные адреса не добавлены: {', '.join(self.invalid)}")
        return "; ".join(parts).capitalize() + "."


@dataclass(frozen=True)
class NewRecipient:
    email: str
    name: str = ""
    company: object = None
    contact: object = None
    variables: dict = field(default_factory=dict)


@transaction.atomic
def add_recipients(*, campaign: Campaign, recipients: Iterable[NewRecipient]) -> AddedRecipients:
    """Adds recipients, deduplicated against the campaign and each other.

    Invalid addresses are reported, not added; unsubscribed ones are added marked
    `unsubscribed` so staff see why they get nothing.
    """
    campaign = _locked(campaign)
    _require(campaign.can_add_recipients, campaign, action="дополнить")
    result = AddedRecipients()
    fresh = {}
    for recipient in recipients:
        email = normalize_email(recipient.email)
        if not is_valid_email(email):
            result.invalid.append(recipient.email.strip() or "(пусто)")
        elif email in fresh:
            result.duplicates += 1
        else:
            fresh[email] = recipient
    existing = set(campaign.recipients.filter(email__in=list(fresh)).values_list("email", flat=True))
    result.duplicates += len(existing)
    rows = [
        CampaignRecipient(
            campaign=campaign, email=email, name=r.name, company=r.company, contact=r.contact, variables=r.variables
        )
        for email, r in fresh.items()
        if email not in existing
    ]
    CampaignRecipient.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    result.created = len(rows)
    suppressed = suppressed_among(row.email for row in rows)
    result.unsubscribed = transitions.mark_unsubscribed(campaign_id=campaign.pk, emails=suppressed) if suppressed else 0
    return result


def recipients_from_companies(*, campaign: Campaign, companies: QuerySet) -> AddedRecipients:
    """Each company's own e-mail and its contacts' e-mails become recipients."""
    new = []
    for company in companies.prefetch_related("contacts"):
        if company.email:
            new.append(NewRecipient(email=company.email, name=company.name, company=company))
        for contact in company.contacts.all():
            if contact.email:
                new.append(NewRecipient(email=contact.email, name=contact.full_name, company=company, contact=contact))
    return add_recipients(campaign=campaign, recipients=new)


# --- shared checks -------------------------------------------------------------------------


def _locked(campaign: Campaign) -> Campaign:
    """The campaign row, fresh and locked until the action's transaction ends (its queue is
    read with it, not locked: the predicates look at it)."""
    return Campaign.objects.select_for_update(of=("self",)).select_related("queue").get(pk=campaign.pk)


def _require(allowed: bool, campaign: Campaign, *, action: str) -> None:
    """Refuses `action` unless the campaign's predicate (the one its button shows by) holds."""
    if allowed:
        return
    refusal = f"Кампанию «{campaign.name}» в статусе «{campaign.get_status_display()}» нельзя {action}."
    if campaign.status == Status.PAUSED and action == "запустить":
        refusal += " Продолжить отправку — кнопка «Возобновить»."
    raise MailerError(refusal)


def _require_startable(campaign: Campaign, *, user, now: datetime) -> None:
    """What a start (now or planned) needs: sending on, a template that renders, someone
    to send to, not too many, and the user's start throttle."""
    _require_account_enabled()
    _require_renders(campaign)
    read_attachments(campaign)  # a file gone from storage refuses here, not in every message
    counts = _recipient_counts(campaign)
    if not counts["pending"]:
        raise MailerError(NO_RECIPIENTS)
    limit = settings.MAILER_MAX_CAMPAIGN_RECIPIENTS
    if counts["total"] > limit:
        raise MailerError(
            f"В кампании {counts['total']} получателей — это больше лимита {limit}. "
            "Разделите список на несколько кампаний."
        )
    limits.throttle("campaign_start", user=user, now=now)


def _require_account_enabled() -> GlobalMailAccount:
    account = GlobalMailAccount.load()
    if not account.is_enabled:
        raise MailerError(ACCOUNT_DISABLED)
    stored_secrets.reveal(account.smtp_password)  # refuses (in Russian) one that cannot be read
    return account


def _require_renders(campaign: Campaign) -> None:
    """Compiles and renders the campaign once for its first recipient; a template that fails
    raises CampaignTemplateError (a MailerError) naming the problem."""
    context = sample_context(campaign, email="", unsubscribe_url=unsubscribe_url(make_test_token(campaign.pk)))
    trial_render(subject=campaign.subject, body_html=campaign.body_html, body_text=campaign.body_text, context=context)


def _recipient_counts(campaign: Campaign) -> dict[str, int]:
    return campaign.recipients.aggregate(total=Count("id"), pending=Count("id", filter=Q(status=Recipient.PENDING)))


def _has_outcomes(campaign: Campaign) -> bool:
    return campaign.recipients.exclude(status__in=[Recipient.PENDING, Recipient.UNSUBSCRIBED]).exists()
