from django.apps import AppConfig


class ClaimConfig(AppConfig):
    name = "huibao.claim"
    label = "claim"
    verbose_name = "Claims"

    def ready(self) -> None:
        # The templates join the catalogue; 理赔 joins the policy hub (servicing band).
        from django.utils.translation import gettext_lazy as _

        from huibao.claim import decisions, notices, selectors
        from huibao.claim.lifecycle import claim_status_changed
        from huibao.claim.services import review
        from huibao.payment.payouts import payout_failed, payout_succeeded
        from huibao.policy.actions import register_action
        from huibao.provider.services import task_changed

        notices.register_all()
        # The claim's payouts move it to paid, or to payment_failed (the benefit released).
        payout_succeeded.register(decisions.PAYOUT_KIND, decisions.on_payout_succeeded)
        payout_failed.register(decisions.PAYOUT_KIND, decisions.on_payout_failed)
        # Event-triggered payouts: index flight/return policies at issuance; follow their payouts.
        from huibao.claim import triggers
        from huibao.claim.tasks import trigger_notices_job
        from huibao.jobs.registry import register_job
        from huibao.policy.services import policies_issued

        policies_issued.register(triggers.on_policies_issued)
        # Policies sold inside a partner's checkout are announced by their batch.
        from huibao.embedded.services import embedded_issued

        embedded_issued.register(triggers.on_embedded_issued)
        register_job(
            "claim.trigger_notices",
            trigger_notices_job,
            order=420,
            description="messages of automatic benefits a lost task did not write",
        )
        payout_succeeded.register(triggers.PAYOUT_KIND, triggers.on_payout_succeeded)
        payout_failed.register(triggers.PAYOUT_KIND, triggers.on_payout_failed)
        # Complete materials go to an adjuster; a provider's task changes join the timeline.
        claim_status_changed.register(review.on_status_changed)
        task_changed.register(review.on_task_changed)
        # A resolved fraud review continues the claim it held.
        from huibao.claim.services import triage
        from huibao.fraud.services import screening_resolved

        screening_resolved.register("claim", triage.on_screening_resolved)
        # A held claim continues when the fraud side releases its hold.
        from huibao.fraud.holds import hold_released

        hold_released.register("claim", triage.on_hold_released)
        register_action(
            "claim",
            label=_("理赔"),
            url_name="claim:report",
            order=205,
            available=lambda policy, user: policy.status in selectors.CLAIMABLE_POLICY_STATUSES,
            icon="claim",
            group="claim",
        )
        self._insurer_side()

    def _insurer_side(self) -> None:
        # Claims decided by the insurer's own system: sent on complete materials; the daily
        # overdue flags (保险法 Art. 23) and the staff's message.
        from huibao.claim import insurer_notices, insurer_tasks
        from huibao.claim.lifecycle import claim_status_changed
        from huibao.jobs.registry import register_job

        insurer_notices.register_all()
        claim_status_changed.register(insurer_tasks.on_claim_status_changed)
        register_job(
            "claim.insurer_overdue",
            insurer_tasks.overdue_job,
            order=420,
            description="claims past their insurer's promised decision time: flag and tell staff",
        )
