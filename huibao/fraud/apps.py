from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "huibao.fraud"
    label = "fraud"
    verbose_name = "Risk control"
