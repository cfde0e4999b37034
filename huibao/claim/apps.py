from django.apps import AppConfig


class ClaimConfig(AppConfig):
    name = "huibao.claim"
    label = "claim"
    verbose_name = "Claims"
