from django.apps import AppConfig


class DistributionConfig(AppConfig):
    name = "huibao.distribution"
    label = "distribution"
    verbose_name = "Distribution: insurer agreements, channels and agents"
