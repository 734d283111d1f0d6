from django.urls import path

from . import views

urlpatterns = [
    path("settings/security/sls/", views.sls_settings_view, name="settings-security-sls"),
    path("settings/security/confirm/", views.confirm_factor_view, name="confirm-factor"),
]
