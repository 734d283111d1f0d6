from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts.views import set_language_view
from agents.admin_site import admin_site

# Each app's admin.py registers its models on the agents' site.
admin.autodiscover()

urlpatterns = [
    path("admin/", admin_site.urls),
    # Django's view, which also stores a logged-in client's choice.
    path("i18n/setlang/", set_language_view, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("login.urls")),
    path("", include("accounts.urls")),
    path("", include("devices.urls")),
    path("", include("passcodes.urls")),
    path("", include("returns.urls")),
    path("", include("help.urls")),
]

# The device simulator shows login secrets: with DEBUG only, never in the
# URLconf with production settings.
if settings.DEBUG:
    urlpatterns += [path("", include("devices.dev_urls"))]

# Our own error pages (help/views.py): none of them reads the request's form.
handler400 = "help.views.bad_request"
handler403 = "help.views.permission_denied"
handler404 = "help.views.page_not_found"
handler500 = "help.views.server_error"
