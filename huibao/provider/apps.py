from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "huibao.provider"
    label = "provider"
    verbose_name = "Service providers"
