from django.contrib import admin
from django.urls import include, path

from accounts.admin_site import admin_site

# Each app's admin.py registers its models on the agents' site.
admin.autodiscover()

urlpatterns = [
    path("admin/", admin_site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("accounts.urls")),
]
