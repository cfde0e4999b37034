from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "huibao.finance"
    label = "finance"
    verbose_name = "Finance: ledger, commissions, settlement, reconciliation"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from huibao.billing.services import instalment_paid
        from huibao.core.backoffice import register_section
        from huibao.finance import booking, commission_jobs, commissions, postings, settlement_jobs, tasks
        from huibao.jobs.registry import register_job
        from huibao.notification.catalogue import register
        from huibao.payment.services import payment_paid, refund_succeeded
        from huibao.policy import cancellation, endorsements
        from huibao.policy.services import policies_issued

        # --- ledger: postings from real events (huibao/finance/postings.py) and its pages ---
        # An issuance's premium and commissions are booked by one job after the issuing commit
        # (huibao/finance/booking.py): the listener answers the job, the policy queues it.
        # Finance is after application, policy and renewal in INSTALLED_APPS, so its paid hooks
        # run after theirs, in the same transaction: an endorsement's change is applied (or its
        # money refunded) before the ledger looks at it. A refund books the issuance first if
        # its job has not run yet.
        policies_issued.register(tasks.on_policies_issued)
        from huibao.embedded.services import embedded_issued

        embedded_issued.register(postings.on_embedded_issued)
        payment_paid.register(postings.ENDORSEMENT_KIND, postings.on_endorsement_paid)
        instalment_paid.register(postings.POLICY_SCHEDULE_KIND, postings.on_instalment_paid)
        for kind in postings.PREMIUM_KINDS:
            refund_succeeded.register(kind, booking.on_refund_succeeded)
        register_section(
            "finance.ledger",
            _("总账"),
            "finance:trial_balance",
            perm="finance.view_journaltransaction",
            order=300,
        )
        register_section(
            "finance.ageing", _("账龄"), "finance:ageing", perm="finance.view_journalline", order=310
        )

        # --- settlement: the back-office section, the overdue job and its message ---
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

        # --- reconciliation (对账): the finance staff's statements, differences and month close ---
        register_section(
            "finance.reconciliation",
            _("对账"),
            "finance:reconciliation",
            perm="finance.view_reconciliation",
            order=420,
        )

        # --- commissions: entries booked from the policy and billing hooks (finance/commissions.py;
        # an issuance's by the booking job above), the month-end tiers job, the back-office
        # sections; a cancellation books the issuance first if its job has not run yet ---
        instalment_paid.register("policy", commissions.on_instalment_paid)
        endorsements.endorsement_applied.register(commissions.on_endorsement_applied)
        cancellation.cancellation_confirmed.register(booking.on_cancellation_confirmed)
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
            order=600,
        )
        register_section(
            "finance.margins", _("毛利"), "finance:margins", perm="finance.view_commissionplan", order=601
        )
