from django.contrib import admin
from django.urls import path

from config.health import healthz
from mailer.admin.attachments import download_attachment
from mailer.admin.poll import poll
from mailer.suppression.views import unsubscribe

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("admin/mailer/poll/", admin.site.admin_view(poll), name="mailer_poll"),
    # Attachments have no public URL (mailer/attachments.py): only this download view.
    path("admin/mailer/attachments/<path:name>", admin.site.admin_view(download_attachment), name="mailer_attachment"),
    path("admin/", admin.site.urls),
]
