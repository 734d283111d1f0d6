from django.urls import path

from . import views

urlpatterns = [
    path("settings/security/sls/online-card/", views.online_card_view, name="settings-security-sls-online-card"),
    path(
        "settings/security/sls/online-card.pdf",
        views.online_card_pdf_view,
        name="settings-security-sls-online-card-pdf",
    ),
    path(
        "settings/security/sls/online-card.png",
        views.online_card_png_view,
        name="settings-security-sls-online-card-png",
    ),
    path(
        "settings/security/sls/online-card/activate/",
        views.online_card_activate_view,
        name="settings-security-sls-online-card-activate",
    ),
    path(
        "settings/security/sls/online-card/options/",
        views.online_card_options_view,
        name="settings-security-sls-online-card-options",
    ),
]
