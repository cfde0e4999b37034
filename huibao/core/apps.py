from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "huibao.core"
    label = "core"
    verbose_name = "Core"
