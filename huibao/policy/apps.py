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

        billing.instalment_overdue.register(services.OBJ_TYPE, services.on_instalment_overdue)
        billing.instalment_paid.register(services.OBJ_TYPE, services.on_instalment_paid)
        billing.schedule_lapsed.register(services.OBJ_TYPE, services.on_schedule_lapsed)
        billing.schedule_reinstated.register(services.OBJ_TYPE, services.on_schedule_reinstated)

        # The policy's own actions on the "what can I do" hub (policy/actions.py).
        hub.register_policy_actions()
        # The staff servicing queue's own sections (policy/queue.py).
        queue.register_platform_sections()

        from huibao.jobs.registry import register_job
        from huibao.policy import jobs

        register_job(
            "policy.statuses", jobs.policy_statuses, order=100, description="policy starts and expiries"
        )
