from django.contrib import admin

from . import models

for model in (
    models.GlobalMailAccount,
    models.SmtpBzQuota,
    models.Campaign,
    models.CampaignRecipient,
    models.CampaignQueue,
    models.SendLog,
    models.Unsubscribe,
):
    admin.site.register(model)
