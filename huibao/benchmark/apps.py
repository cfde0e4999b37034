from django.apps import AppConfig


class BenchmarkConfig(AppConfig):
    name = "huibao.benchmark"
    label = "benchmark"
    verbose_name = "Bench mode"
