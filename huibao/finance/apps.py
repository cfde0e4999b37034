from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "huibao.finance"
    label = "finance"
    verbose_name = "Finance: ledger, commissions, settlement, reconciliation"

    def ready(self) -> None:
        # --- settlement (issue 12): the back-office section, the overdue job and its message.
        from django.utils.translation import gettext_lazy as _

        from huibao.core.backoffice import register_section
        from huibao.finance import settlement_jobs
        from huibao.jobs.registry import register_job
        from huibao.notification.catalogue import register

        register_section(
            "finance.settlements",
            _("结算单"),
            "finance:settlements",
            perm="finance.view_settlementstatement",
            order=610,
        )
        register(settlement_jobs.OVERDUE_MESSAGE)
        register_job(
            "finance.settlement_overdue",
            settlement_jobs.overdue_job,
            order=440,
            description="settlement statements past their due date unpaid: flag and tell finance",
        )
