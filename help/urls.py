from django.urls import path

from . import views

urlpatterns = [
    path("help/", views.help_view, name="help"),
    path("help/contact/", views.contact_view, name="help-contact"),
    path("favicon.ico", views.favicon),
]
