"""Forms of the campaign screens: the campaign itself and the small dialogs of its actions."""

from email.utils import parseaddr

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from backoffice.models import Company
from mailer.addresses import is_valid_email, normalize_email
from mailer.admin.body_editor import BodyEditorWidget
from mailer.attachments import validate_upload
from mailer.engine.compose import sample_context, trial_render
from mailer.engine.templating import CampaignTemplateError
from mailer.models import Campaign, CampaignAttachment, CampaignRecipient
from mailer.services import NewRecipient


class CampaignForm(forms.ModelForm):
    """Refuses templates that would not render: each is compiled and rendered once for the
    campaign's first recipient (or a sample one), and the error goes on the field at fault."""

    class Meta:
        model = Campaign
        fields = ("name", "subject", "body_html", "body_text")
        help_texts = {
            # Admin templates print help texts as HTML: escaped, the quotes stay visible.
            "body_html": escape(
                "Переменные: {{ name }}, {{ company }}, {{ email }}, {{ unsubscribe_url }} и колонки импорта. "
                'Если у кого-то значение пустое, задайте замену: {{ name|default:"коллеги" }}. '
                "Если ссылки отписки нет, она добавится в конце письма."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "body_html" in self.fields:  # not while the campaign is read-only
            # The visual editor offers the fixed variables and the import's columns.
            first = self.instance.recipients.first() if self.instance.pk else None
            variables = sorted(first.variables) if first and isinstance(first.variables, dict) else ()
            self.fields["body_html"].widget = BodyEditorWidget(variables=variables)

    def clean(self):
        cleaned = super().clean()
        try:
            trial_render(
                subject=cleaned.get("subject", ""),
                body_html=cleaned.get("body_html", ""),
                body_text=cleaned.get("body_text", ""),
                context=sample_context(self.instance, email="", unsubscribe_url="#"),
            )
        except CampaignTemplateError as exc:
            self.add_error(exc.part if exc.part in self.fields else None, str(exc))
        return cleaned


class AttachmentForm(forms.ModelForm):
    """Refuses a new upload of a type or size not allowed (mailer/attachments.py)."""

    class Meta:
        model = CampaignAttachment
        fields = ("file",)

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if isinstance(file, UploadedFile):  # a new upload; a stored file was checked on its way in
            validate_upload(file)
        return file


class RecipientForm(forms.ModelForm):
    """One recipient typed by hand: the address is normalised and must be valid."""

    class Meta:
        model = CampaignRecipient
        fields = ("campaign", "email", "name", "variables")

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if not is_valid_email(email):
            raise forms.ValidationError("Введите корректный адрес e-mail.")
        return email

    def clean_variables(self):
        # A template reads variables by name: a list or a number would be no variables at all.
        variables = self.cleaned_data.get("variables")
        if variables in (None, ""):
            return {}
        if not isinstance(variables, dict):
            raise forms.ValidationError('Переменные — объект JSON, например {"город": "Казань"}.')
        return variables


class ConfirmDialogForm(BaseDialogForm):
    """An action that needs only a confirmation: posting the dialog is the confirmation."""


class AddRecipientsForm(BaseDialogForm):
    lines = forms.CharField(
        label="Адреса",
        help_text=escape("По одному на строке: «ivan@example.ru» или «Иван Петров <ivan@example.ru>»."),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
    )

    def new_recipients(self):
        recipients = []
        for line in self.cleaned_data["lines"].splitlines():
            if not line.strip():
                continue
            name, address = parseaddr(line.strip())
            recipients.append(NewRecipient(email=address or line.strip(), name=name))
        return recipients


class CompaniesFilterForm(BaseDialogForm):
    """Which companies become recipients: their own e-mail and their contacts' e-mails."""

    search = forms.CharField(label="Название содержит", required=False, widget=UnfoldAdminTextInputWidget)
    cities = forms.MultipleChoiceField(label="Города", required=False, widget=UnfoldAdminSelectMultipleWidget)
    industry = forms.ChoiceField(label="Отрасль", required=False, widget=UnfoldAdminSelectWidget)
    only_mine = forms.BooleanField(label="Только мои компании", required=False, widget=UnfoldBooleanSwitchWidget)

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["cities"].choices = _distinct_choices("city")
        self.fields["industry"].choices = [("", "Любая"), *_distinct_choices("industry")]

    def companies(self):
        data = self.cleaned_data
        companies = Company.objects.all()
        if data["search"]:
            companies = companies.filter(name__icontains=data["search"])
        if data["cities"]:
            companies = companies.filter(city__in=data["cities"])
        if data["industry"]:
            companies = companies.filter(industry=data["industry"])
        if data["only_mine"]:
            companies = companies.filter(manager=self.request.user)
        return companies


def _distinct_choices(field):
    values = Company.objects.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct()
    return [(value, value) for value in values]
