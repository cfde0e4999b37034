from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "huibao.finance"
    label = "finance"
    verbose_name = "Finance: ledger, commissions, settlement, reconciliation"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from huibao.core.backoffice import register_section

        # Reconciliation (对账): the finance staff's statements, differences and month close.
        register_section(
            "finance.reconciliation",
            _("对账"),
            "finance:reconciliation",
            perm="finance.view_reconciliation",
            order=420,
        )
