from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "huibao.policy"
    label = "policy"
    verbose_name = "Policy"
