from django.urls import path

from . import views

urlpatterns = [
    path("returns/", views.returns_view, name="returns"),
    path("returns/<int:return_id>/form.pdf", views.return_form_view, name="returns-form"),
]
