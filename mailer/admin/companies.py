"""Companies, as the mailer extends the CRM's screen: «Добавить в кампанию…» on the list.

The back-office app knows nothing of campaigns; this module registers its CompanyAdmin again
with the action added (mailer may import backoffice, never the reverse).
"""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from unfold.widgets import UnfoldAdminSelectWidget

from backoffice.admin import CompanyAdmin
from backoffice.models import Company
from mailer import services
from mailer.admin.base import run_action
from mailer.models import Campaign


class AddToCampaignForm(forms.Form):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        label="Кампания",
        widget=UnfoldAdminSelectWidget,
        help_text="Черновик или кампания на паузе.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.visible_to(user).editable()


admin.site.unregister(Company)


@admin.register(Company)
class CompanyWithCampaignsAdmin(CompanyAdmin):
    actions = (*(CompanyAdmin.actions or ()), "add_to_campaign")

    @admin.action(description="Добавить в кампанию…", permissions=["view"])
    def add_to_campaign(self, request, queryset):
        """Asks for a draft campaign, then adds the companies' and contacts' e-mails to it."""
        form = AddToCampaignForm(request.POST if "apply" in request.POST else None, user=request.user)
        if form.is_valid():
            campaign = form.cleaned_data["campaign"]
            result = run_action(
                request,
                lambda: services.recipients_from_companies(campaign=campaign, companies=queryset),
                success=lambda r: f"Кампания «{campaign.name}». {r.summary()}",
            )
            if result is not None:
                self.admin_site.get_model_admin(Campaign).log_change(
                    request, campaign, "Добавлены получатели из компаний"
                )
            return None
        return TemplateResponse(
            request,
            "admin/mailer/company/add_to_campaign.html",
            {
                **self.admin_site.each_context(request),
                "title": "Добавить компании в кампанию",
                "form": form,
                "companies": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
