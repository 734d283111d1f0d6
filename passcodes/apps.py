from django.apps import AppConfig


class PasscodesConfig(AppConfig):
    name = "passcodes"
    verbose_name = "Temporary passcodes and online cards"
