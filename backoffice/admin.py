from django.contrib import admin

from . import models

for model in (models.Company, models.Contact, models.Notification):
    admin.site.register(model)
