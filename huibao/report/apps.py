from django.apps import AppConfig


class ReportConfig(AppConfig):
    name = "huibao.report"
    label = "report"
    verbose_name = "Reports"
