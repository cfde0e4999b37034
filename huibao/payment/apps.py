from django.apps import AppConfig


class PaymentConfig(AppConfig):
    name = "huibao.payment"
    label = "payment"
    verbose_name = "Payment"

    def ready(self) -> None:
        from huibao.jobs.registry import register_job
        from huibao.payment import gateways, jobs

        register_job(
            "payment.reconcile_gateway_bills",
            jobs.reconcile_gateway_bills,
            # Read-only, after the day's payment work.
            order=240,
            description="the real gateways' files of two days before, against the payments (对账)",
        )
        # Alipay / WeChat Pay, each when its settings are complete (docs/deploy.md).
        gateways.register_configured()

        register_job(
            "payment.expire_unpaid", jobs.expire_unpaid, order=50, description="open payments past expiry"
        )
        register_job(
            "payment.query_stale_payouts",
            jobs.query_stale_payouts,
            # Independent of the other jobs: after the collections, before the renewal work.
            order=230,
            description="submitted payouts with no result yet, asked of the provider",
        )
