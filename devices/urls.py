from django.urls import path

from . import views

urlpatterns = [
    path("settings/security/sls/", views.sls_settings_view, name="settings-security-sls"),
    path("settings/security/sls/activate/", views.activate_view, name="settings-security-sls-activate"),
    path("settings/security/sls/order/", views.order_view, name="settings-security-sls-order"),
    path("settings/security/sls/order/pin/", views.order_pin_view, name="settings-security-sls-order-pin"),
    path("settings/security/sls/order/cancel/", views.order_cancel_view, name="settings-security-sls-order-cancel"),
    path("settings/security/sls/replacement/", views.replacement_view, name="replacement"),
    path("settings/security/confirm/", views.confirm_factor_view, name="confirm-factor"),
    path("settings/security/sls/mobile/", views.mobile_phone_view, name="settings-security-sls-mobile"),
    path("settings/security/sls/mobile/code/", views.mobile_code_view, name="settings-security-sls-mobile-code"),
    path(
        "settings/security/sls/mobile/activate/",
        views.mobile_activate_view,
        name="settings-security-sls-mobile-activate",
    ),
]
