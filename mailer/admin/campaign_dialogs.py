"""The campaign actions' dialogs that say something before staff confirm: what «Повторить
неудачные» will do, which variables are empty before a start or a plan (then a confirmation
is required), the date-time of a plan, and whether a copy takes the recipients."""

import re

from django import forms
from django.db.models import Count, Q
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget, UnfoldBooleanSwitchWidget

from mailer.addresses import is_valid_email, normalize_email
from mailer.engine import policy
from mailer.models import Campaign, CampaignRecipient
from mailer.services import MAX_TEST_ADDRESSES
from mailer.template_variables import empty_variables

Recipient = CampaignRecipient.Status


def retry_notes(campaign: Campaign) -> list[str]:
    """What «Повторить неудачные» will do with this campaign's failures, in numbers."""
    counts = campaign.recipients.filter(status__in=[Recipient.FAILED, Recipient.UNKNOWN]).aggregate(
        retryable=Count(
            "id", filter=Q(status=Recipient.FAILED, error_kind__in=CampaignRecipient.RETRYABLE_ERROR_KINDS)
        ),
        failed=Count("id", filter=Q(status=Recipient.FAILED)),
        unknown=Count("id", filter=Q(status=Recipient.UNKNOWN)),
    )
    permanent = counts["failed"] - counts["retryable"]
    unknown = counts["unknown"]
    if not counts["failed"] and not unknown:
        return []  # nothing to say (the page shows no notes then)
    notes = [f"Вернутся в очередь: {counts['retryable']} — временные ошибки."]
    if permanent:
        notes.append(f"Не повторяются: {permanent} — адрес отклонён сервером или некорректен.")
    if unknown:
        notes.append(f"Неизвестно, дошли ли: {unknown} — вернутся, только если отметить «включая неизвестные».")
    return notes


class NotesDialogForm(BaseDialogForm):
    """A dialog that lists `notes(campaign)` above its fields."""

    form_before_template = "admin/mailer/campaign/dialog_notes.html"

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.campaign = Campaign.objects.visible_to(request.user).filter(pk=self.object_id).first()

    def notes(self, campaign: Campaign) -> list[str]:
        return []

    def get_before_template_context(self, request, object_id=None):
        return {"notes": self.notes(self.campaign) if self.campaign else []}


class RetryFailedForm(NotesDialogForm):
    include_unknown = forms.BooleanField(
        label="включая неизвестные",
        required=False,
        widget=UnfoldBooleanSwitchWidget,
        help_text=(
            "Письма, о которых неизвестно, дошли ли они (соединение оборвалось после передачи): "
            "получатель может получить письмо второй раз."
        ),
    )

    def notes(self, campaign):
        return retry_notes(campaign)


class StartForm(NotesDialogForm):
    """Warns of variables that print nothing for some recipients and then asks to confirm."""

    confirm_label = "Всё равно запустить"

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Asked only where the action will be tried: a refused one says why instead.
        self.warnings = empty_variables(self.campaign) if self.campaign and self.campaign.can_start else []
        if self.warnings:
            self.fields["confirm"] = forms.BooleanField(
                label=self.confirm_label,
                widget=UnfoldBooleanSwitchWidget,
                error_messages={"required": "Подтвердите: у части получателей переменные пустые."},
            )

    def notes(self, campaign):
        return [warning.text for warning in self.warnings]


class DateTimeLocalInput(UnfoldAdminTextInputWidget):
    """The browser's own date-time picker; the value is read in the mailer's time zone (the
    admin's current one)."""

    input_type = "datetime-local"
    format = "%Y-%m-%dT%H:%M"


class ScheduleForm(StartForm):
    confirm_label = "Всё равно запланировать"

    at = forms.DateTimeField(
        label="Дата и время отправки",
        widget=DateTimeLocalInput,
        input_formats=["%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"],
        error_messages={"required": "Укажите дату и время.", "invalid": "Введите дату и время."},
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["at"].label = f"Дата и время отправки ({policy.zone_label()})"
        self.order_fields(["at"])


class DuplicateForm(BaseDialogForm):
    with_recipients = forms.BooleanField(
        label="Вместе с получателями",
        required=False,
        widget=UnfoldBooleanSwitchWidget,
        help_text="Все снова «Ожидает»; отписавшиеся с тех пор будут отмечены.",
    )


class TestEmailForm(BaseDialogForm):
    """Up to five addresses at once, and whose data fills the variables."""

    to = forms.CharField(
        label=f"Адреса (до {MAX_TEST_ADDRESSES}, через запятую или с новой строки)",
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )
    as_recipient = forms.CharField(
        label="Подставить данные получателя",
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "e-mail получателя кампании"}),
        help_text="Пусто — данные первого получателя.",
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["to"].initial = request.user.email

    def clean_to(self):
        addresses = [address for address in re.split(r"[,;\s]+", self.cleaned_data["to"]) if address]
        if bad := [address for address in addresses if not is_valid_email(normalize_email(address))]:
            raise forms.ValidationError(f"Введите корректный адрес e-mail. Не подходит: {', '.join(bad)}.")
        if len(addresses) > MAX_TEST_ADDRESSES:
            raise forms.ValidationError(f"Не больше {MAX_TEST_ADDRESSES} адресов сразу.")
        return addresses

    def clean_as_recipient(self):
        email = self.cleaned_data["as_recipient"].strip()
        if not email:
            return None
        recipient = recipient_of(self.object_id, self.request.user, email)
        if recipient is None:
            raise forms.ValidationError("Такого получателя в кампании нет.")
        return recipient


def recipient_of(campaign_id, user, email: str) -> CampaignRecipient | None:
    """A recipient of a campaign the user may see, by address (as staff type it)."""
    return (
        CampaignRecipient.objects.filter(
            campaign__in=Campaign.objects.visible_to(user), campaign_id=campaign_id, email=normalize_email(email)
        )
        .select_related("company")
        .first()
    )
