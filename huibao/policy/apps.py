from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "huibao.policy"
    label = "policy"
    verbose_name = "Policy"

    def ready(self) -> None:
        # Billing announces what happens to a policy's premium schedule under the kind "policy";
        # the lifecycle moves the policy (policy/services.py, "billing → lifecycle").
        from huibao.billing import services as billing
        from huibao.policy import hub, queue, services
        from huibao.policy.messages import register_messages

        billing.instalment_overdue.register(services.OBJ_TYPE, services.on_instalment_overdue)
        billing.instalment_paid.register(services.OBJ_TYPE, services.on_instalment_paid)
        billing.schedule_lapsed.register(services.OBJ_TYPE, services.on_schedule_lapsed)
        billing.schedule_reinstated.register(services.OBJ_TYPE, services.on_schedule_reinstated)

        # The policy's own actions on the "what can I do" hub (policy/actions.py).
        hub.register_policy_actions()
        # The staff servicing queue's own sections (policy/queue.py).
        queue.register_platform_sections()
        register_messages()

        from huibao.jobs.registry import register_job
        from huibao.policy.cancellation import (
            insurer_notices_job,
            register_cancel_action,
            register_queue_section,
        )

        # 退保 on the hub and in the staff servicing queue (policy/cancellation.py).
        register_cancel_action()
        register_queue_section()

        register_job(
            "policy.cancellation_insurer_notices",
            insurer_notices_job,
            order=80,
            description="退保信息回传：补发未被保险公司接收的退保通知",
        )
