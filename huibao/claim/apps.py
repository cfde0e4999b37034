from django.apps import AppConfig


class ClaimConfig(AppConfig):
    name = "huibao.claim"
    label = "claim"
    verbose_name = "Claims"

    def ready(self) -> None:
        # The templates join the catalogue; 理赔 joins the policy hub (servicing band).
        from django.utils.translation import gettext_lazy as _

        from huibao.claim import decisions, notices, selectors
        from huibao.payment.payouts import payout_failed, payout_succeeded
        from huibao.policy.actions import register_action

        notices.register_all()
        # The claim's payouts move it to paid, or to payment_failed (the benefit released).
        payout_succeeded.register(decisions.PAYOUT_KIND, decisions.on_payout_succeeded)
        payout_failed.register(decisions.PAYOUT_KIND, decisions.on_payout_failed)
        # A resolved fraud review continues the claim it held.
        from huibao.claim.services import triage
        from huibao.fraud.services import screening_resolved

        screening_resolved.register("claim", triage.on_screening_resolved)
        register_action(
            "claim",
            label=_("理赔"),
            url_name="claim:report",
            order=205,
            available=lambda policy, user: policy.status in selectors.CLAIMABLE_POLICY_STATUSES,
            icon="claim",
            group="claim",
        )
