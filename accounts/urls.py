from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code_view, name="login-code"),
    path("login/forgot/", views.forgot_view, name="login-forgot"),
    path("logout/", views.logout_view, name="logout"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.SingleUsePasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password-reset-complete",
    ),
    path("settings/security/sls/", views.sls_settings_view, name="settings-security-sls"),
    path("help/", views.help_view, name="help"),
    path("help/contact/", views.contact_view, name="help-contact"),
]
