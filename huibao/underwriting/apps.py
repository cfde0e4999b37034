from django.apps import AppConfig


class UnderwritingConfig(AppConfig):
    name = "huibao.underwriting"
    label = "underwriting"
    verbose_name = "核保"
