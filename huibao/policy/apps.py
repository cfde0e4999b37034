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

        # A premium delta paid applies its endorsement; the customer messages of servicing.
        from huibao.payment.services import payment_paid
        from huibao.policy import endorsements, notices

        payment_paid.register(endorsements.REFERENCE_KIND, endorsements.on_endorsement_paid)
        notices.register_templates()
