from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("withdrawals/", views.withdrawals_view, name="withdrawals"),
    path("withdrawals/<int:pk>/", views.withdrawal_detail_view, name="withdrawal-detail"),
    path("deposits/", views.deposits_view, name="deposits"),
    path("settings/banking/", views.banking_view, name="settings-banking"),
    path("settings/email/", views.email_view, name="settings-email"),
    path("statements/", views.statements_view, name="statements"),
    path("statements/<str:number>/<int:year>/<int:month>/", views.statement_pdf_view, name="statement-pdf"),
    path("statements/<str:number>/tax/<int:year>/", views.tax_form_pdf_view, name="tax-form-pdf"),
]
