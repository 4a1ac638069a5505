from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path

from mailer import views as mailer_views

urlpatterns = [
    path("unsubscribe/<str:token>/", mailer_views.unsubscribe, name="unsubscribe"),
    path("admin/", admin.site.urls),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
