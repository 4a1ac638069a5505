from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path

from config.health import healthz
from mailer import views as mailer_views
from mailer.admin.poll import poll

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("unsubscribe/<str:token>/", mailer_views.unsubscribe, name="unsubscribe"),
    path("admin/mailer/poll/", admin.site.admin_view(poll), name="mailer_poll"),
    path("admin/", admin.site.urls),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
