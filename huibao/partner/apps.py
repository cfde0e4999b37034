from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "huibao.partner"
    label = "partner"
    verbose_name = "Partners: insurers and channels on the partner API"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from huibao.core.backoffice import register_section
        from huibao.jobs.registry import register_job
        from huibao.partner import jobs, webhooks

        # Policy issued, cancelled, claim paid, payout made → the partners concerned, by webhook.
        webhooks.register()
        register_section(
            "partner.partners", _("合作方接口"), "partner:partners", perm="partner.view_partner", order=320
        )
        register_job(
            "partner.purge",
            jobs.purge,
            order=950,
            description="forget partner nonces past their window and idempotency records past a day",
        )
