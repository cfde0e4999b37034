from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "huibao.provider"
    label = "provider"
    verbose_name = "Service providers"

    def ready(self) -> None:
        # Overdue tasks are flagged by the daily run (and by `manage.py run_jobs` as often as it
        # is scheduled: a rescue's SLA is hours, so operators run it more often than daily).
        from huibao.jobs.registry import register_job
        from huibao.provider import jobs

        register_job("provider.overdue", jobs.overdue, order=400, description="flag overdue provider tasks")
