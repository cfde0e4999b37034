from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "huibao.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Billing's charges are payments of its own reference kind: it listens to the payment
        # engine's outcome hooks for them.
        from huibao.billing.services import (
            CHECKOUT_KIND,
            COLLECTION_KIND,
            on_checkout_paid,
            on_collection_failed,
            on_collection_paid,
        )
        from huibao.payment.services import payment_failed, payment_paid

        payment_paid.register(COLLECTION_KIND, on_collection_paid)
        payment_paid.register(CHECKOUT_KIND, on_checkout_paid)
        payment_failed.register(COLLECTION_KIND, on_collection_failed)

        # The day's billing run, step by step (docs/billing.md, docs/deploy.md "Daily jobs").
        from huibao.billing import jobs
        from huibao.jobs.registry import register_job

        register_job(
            "billing.roll_forward",
            jobs.roll_forward,
            order=195,
            description="the next policy year's instalments of multi-year premium terms",
        )
        register_job(
            "billing.mark_overdue",
            jobs.mark_overdue,
            order=200,
            description="instalments unpaid past their due date",
        )
        register_job(
            "billing.lapse_after_grace",
            jobs.lapse_after_grace,
            order=210,
            description="schedules unpaid past grace",
        )
        register_job(
            "billing.collect_due", jobs.collect_due, order=220, description="charges of the instalments due"
        )
