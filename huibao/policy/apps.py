from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "huibao.policy"
    label = "policy"
    verbose_name = "Policy"

    def ready(self) -> None:
        # Billing announces what happens to a policy's premium schedule under the kind "policy";
        # the lifecycle moves the policy (policy/services.py, "billing → lifecycle").
        from huibao.billing import services as billing
        from huibao.policy import hub, lifecycle, notices, premiums, queue, services

        billing.instalments_overdue.register(services.OBJ_TYPE, services.on_instalments_overdue)
        billing.instalment_paid.register(services.OBJ_TYPE, services.on_instalment_paid)
        billing.schedule_lapsed.register(services.OBJ_TYPE, services.on_schedule_lapsed)
        billing.schedule_reinstated.register(services.OBJ_TYPE, services.on_schedule_reinstated)

        # The policy's own actions on the "what can I do" hub (policy/actions.py).
        hub.register_policy_actions()
        # The customer's policies on the 我的 page.
        from huibao.account.me import me_sections
        from huibao.policy.web.me import my_policies

        me_sections.register(my_policies)
        # The staff servicing queue's own sections (policy/queue.py).
        queue.register_platform_sections()
        premiums.register_actions()
        # Reinstatements referred to an underwriter: their messages and queue section.
        from huibao.policy import reinstatement

        reinstatement.register_templates()
        reinstatement.register_queue_section()
        # The customer's messages: premiums and the policy's status.
        notices.register_templates()
        billing.collection_failed.register(services.OBJ_TYPE, notices.on_collection_failed)
        lifecycle.policy_status_changed.register(notices.on_status_changed)
        # The daily jobs: the status sweep and the premium due reminders.
        from huibao.jobs.registry import register_job
        from huibao.policy import jobs

        register_job(
            "policy.statuses", jobs.policy_statuses, order=100, description="policy starts and expiries"
        )
        register_job(
            "policy.premium_due_reminders",
            jobs.premium_due_reminders,
            order=300,
            description="reminders of the instalments due in three days",
        )
        register_job(
            "policy.expire_endorsements",
            jobs.expire_endorsements,
            order=jobs.EXPIRE_ENDORSEMENTS_ORDER,
            description="endorsements unconfirmed or unpaid past their deadline",
        )
        # A premium delta paid applies its endorsement; the customer messages of endorsements.
        from huibao.payment.services import payment_paid
        from huibao.policy import endorsement_hub, endorsement_notices, endorsements

        payment_paid.register(endorsements.REFERENCE_KIND, endorsements.on_endorsement_paid)
        endorsement_notices.register_templates()
        endorsement_hub.register()  # the "保单变更" action and the approvals queue section

        # Cancellation (policy/cancellation.py): its customer messages, 退保 on the hub, its
        # section of the staff servicing queue (their notices to insurers are deliveries).
        from huibao.policy.cancellation import register_cancel_action, register_queue_section
        from huibao.policy.messages import register_messages

        register_messages()
        register_cancel_action()
        register_queue_section()
