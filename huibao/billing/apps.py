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

        # The day's billing work, a daily job (before the policy's status sweep and reminders).
        from huibao.billing import jobs
        from huibao.jobs.registry import register_job

        register_job(
            "billing.daily", jobs.billing_day, order=jobs.ORDER, description="分期保费：逾期、失效、代扣"
        )
