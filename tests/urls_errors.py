"""The site's URLs plus two views that fail, to reach the 403 and 500 handlers."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from sls_portal.urls import handler400, handler403, handler404, handler500  # noqa: F401
from sls_portal.urls import urlpatterns as site_patterns


def boom(request):
    raise RuntimeError("a fault on our side")


def denied(request):
    raise PermissionDenied


urlpatterns = [path("boom/", boom), path("denied/", denied), *site_patterns]
