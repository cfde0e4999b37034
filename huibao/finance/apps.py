from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "huibao.finance"
    label = "finance"
    verbose_name = "Finance: ledger, commissions, settlement, reconciliation"
