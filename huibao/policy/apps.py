from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "huibao.policy"
    label = "policy"
    verbose_name = "Policy"

    def ready(self) -> None:
        # Billing announces what happens to a policy's premium schedule under the kind "policy".
        from huibao.billing.services import schedule_lapsed
        from huibao.policy.services import OBJ_TYPE, on_schedule_lapsed

        schedule_lapsed.register(OBJ_TYPE, on_schedule_lapsed)
