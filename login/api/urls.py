from django.urls import path, re_path

from . import views

urlpatterns = [
    path("platform/login", views.login, name="api-platform-login"),
    path("platform/login/verify", views.verify, name="api-platform-verify"),
    path("platform/session", views.session, name="api-platform-session"),
    path("platform/logout", views.logout, name="api-platform-logout"),
    path("platform/openapi.json", views.openapi, name="api-platform-openapi"),
    # Any other path under /api/: the API's JSON 404, whatever the method.
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
