from django.contrib import admin
from unfold.admin import ModelAdmin

from .models import Company, Contact, Notification


@admin.register(Company)
class CompanyAdmin(ModelAdmin):
    list_display = ("name", "email", "city", "industry", "manager")
    search_fields = ("name", "email", "inn")
    list_filter = ("city", "industry", "manager")


@admin.register(Contact)
class ContactAdmin(ModelAdmin):
    list_display = ("full_name", "email", "company", "position")
    search_fields = ("full_name", "email", "company__name")


@admin.register(Notification)
class NotificationAdmin(ModelAdmin):
    list_display = ("title", "kind", "created_at", "read_at")
