from django.apps import AppConfig


class AccountConfig(AppConfig):
    name = "huibao.account"
    label = "account"
