"""Pages for development only: sls_portal/urls.py includes these when DEBUG is on."""

from django.urls import path

from . import views

urlpatterns = [
    path("dev/simulator/<str:serial>/", views.simulator_view, name="dev-simulator"),
]
