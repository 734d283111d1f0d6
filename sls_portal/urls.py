from django.contrib import admin
from django.urls import include, path

from agents.admin_site import admin_site

# Each app's admin.py registers its models on the agents' site.
admin.autodiscover()

urlpatterns = [
    path("admin/", admin_site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("login.urls")),
    path("", include("accounts.urls")),
    path("", include("devices.urls")),
    path("", include("help.urls")),
]
