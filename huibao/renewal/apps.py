from django.apps import AppConfig


class RenewalConfig(AppConfig):
    name = "huibao.renewal"
    label = "renewal"
    verbose_name = "Renewal"

    def ready(self) -> None:
        # Payments of kind "renewal" (the cashier's, and auto-renewal's mandate charges) tell the
        # offer what happened; the daily work runs as jobs; the templates join the catalogue.
        from django.utils.translation import gettext_lazy as _

        from huibao.jobs.registry import register_job
        from huibao.payment import services as payments
        from huibao.policy.actions import register_action
        from huibao.renewal import jobs, notices, services

        notices.register_all()
        payments.payment_paid.register(services.PAYMENT_KIND, services.on_renewal_paid)
        payments.payment_failed.register(services.PAYMENT_KIND, services.on_renewal_failed)
        register_job("renewal.offers", jobs.offers, order=300, description="renewal offers before expiry")
        register_job(
            "renewal.offer_notices",
            jobs.offer_notices,
            order=305,
            description="notices of new renewal offers",
        )
        register_job("renewal.reminders", jobs.reminders, order=310, description="renewal reminders 30/7/1")
        register_job(
            "renewal.auto_renew", jobs.auto_renew, order=320, description="automatic renewal charges"
        )
        register_job(
            "renewal.lapse", jobs.lapse, order=330, description="renewal offers not paid by grace end"
        )
        # Renew, highlighted, while an offer is open (policy/actions.py order bands: 1–99 urgent).
        register_action(
            "renew",
            label=_("续保"),
            url_name="renewal:offer",
            order=20,
            available=services.can_renew,
            icon="renew",
            group="payment",
            api_url_name="api:renewal_offer",
        )
