from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "huibao.jobs"
    label = "jobs"
    verbose_name = "每日任务"
