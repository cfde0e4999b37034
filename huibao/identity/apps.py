from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "huibao.identity"
    label = "identity"
    verbose_name = "实名与人脸核验"
