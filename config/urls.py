from django.contrib import admin
from django.urls import path

from config.health import healthz
from mailer import views as mailer_views
from mailer.admin.attachments import download_attachment
from mailer.admin.poll import poll

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("unsubscribe/<str:token>/", mailer_views.unsubscribe, name="unsubscribe"),
    path("admin/mailer/poll/", admin.site.admin_view(poll), name="mailer_poll"),
    # Attachments have no public URL (mailer/attachments.py): only this download view.
    path("admin/mailer/attachments/<path:name>", admin.site.admin_view(download_attachment), name="mailer_attachment"),
    path("admin/", admin.site.urls),
]
