from django.apps import AppConfig


class EsignConfig(AppConfig):
    name = "huibao.esign"
    label = "esign"
