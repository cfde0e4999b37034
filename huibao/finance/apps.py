from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "huibao.finance"
    label = "finance"
    verbose_name = "Finance: ledger, commissions, settlement, reconciliation"

    def ready(self) -> None:
        # --- commission area: entries booked from the policy and billing hooks (finance/commissions.py),
        # the month-end tiers job, the back-office sections.
        from django.utils.translation import gettext_lazy as _

        from huibao.billing import services as billing
        from huibao.core.backoffice import register_section
        from huibao.finance import commission_jobs, commissions
        from huibao.jobs.registry import register_job
        from huibao.policy import cancellation, endorsements
        from huibao.policy.services import policies_issued

        policies_issued.register(commissions.on_policies_issued)
        billing.instalment_paid.register("policy", commissions.on_instalment_paid)
        endorsements.endorsement_applied.register(commissions.on_endorsement_applied)
        cancellation.cancellation_confirmed.register(commissions.on_cancellation_confirmed)
        register_job(
            "finance.commission_month_end",
            commission_jobs.commission_month_end,
            order=800,
            description="volume-tier and target commission bonuses at month and quarter end",
        )
        register_section(
            "finance.commission_plans",
            _("佣金政策"),
            "finance:commission_plans",
            perm="finance.view_commissionplan",
            order=610,
        )
        register_section(
            "finance.margins", _("毛利"), "finance:margins", perm="finance.view_commissionplan", order=611
        )
        # --- end of commission area
