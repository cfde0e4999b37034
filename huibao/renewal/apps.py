from django.apps import AppConfig


class RenewalConfig(AppConfig):
    name = "huibao.renewal"
    label = "renewal"
    verbose_name = "Renewal"

    def ready(self) -> None:
        # Payments of kind "renewal" (the cashier's, and auto-renewal's mandate charges) tell the
        # offer what happened; the daily work runs as jobs; the templates join the catalogue.
        from huibao.jobs.registry import register_job
        from huibao.payment import services as payments
        from huibao.renewal import jobs, notices, services

        notices.register_all()
        payments.payment_paid.register(services.PAYMENT_KIND, services.on_renewal_paid)
        payments.payment_failed.register(services.PAYMENT_KIND, services.on_renewal_failed)
        register_job("renewal.offers", jobs.offers, order=300, description="renewal offers before expiry")
        register_job(
            "renewal.offer_notices", jobs.offer_notices, order=305, description="notices of new renewal offers"
        )
        register_job("renewal.reminders", jobs.reminders, order=310, description="renewal reminders 30/7/1")
        register_job("renewal.auto_renew", jobs.auto_renew, order=320, description="automatic renewal charges")
        register_job("renewal.lapse", jobs.lapse, order=330, description="renewal offers not paid by grace end")
