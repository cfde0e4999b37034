from django.apps import AppConfig


class ApplicationConfig(AppConfig):
    name = "huibao.application"
    label = "application"
    verbose_name = "Application"

    def ready(self) -> None:
        # The engines the application uses announce what happened through their hooks; the
        # application listens here (imported now: the models are ready). The payment's "paid"
        # hook issues the policies in the transaction confirming the payment; the face-check hook
        # records the provider's result; the policy's recovery issues what was paid, not issued.
        from huibao.application.selectors import REFERENCE_KIND
        from huibao.application.services.identity import on_face_result
        from huibao.application.services.pay import (
            on_issuance_recovery,
            on_payment_confirmed,
            on_payment_failed,
        )
        from huibao.identity.services import face_result
        from huibao.payment.services import payment_failed, payment_paid
        from huibao.policy.services import issuance_recovery

        payment_paid.register(REFERENCE_KIND, on_payment_confirmed)
        # A payment that ended unpaid puts the application back to "signed", to be paid again.
        payment_failed.register(REFERENCE_KIND, on_payment_failed)
        # The applications still to finish, on the customer's 我的 page.
        from huibao.account.me import me_sections
        from huibao.application.web.me import my_applications

        me_sections.register(my_applications)
        face_result.register(REFERENCE_KIND, on_face_result)
        issuance_recovery.register(on_issuance_recovery)

        # The catalog checks a version's `application_rules` on import and publication with ours.
        from huibao.application.rules import validate_rules
        from huibao.catalog.io import rules_checks

        rules_checks.register(lambda version: validate_rules(version.get("application_rules") or {}))

        # The agent tool in the back office's sections; an agent lands on it after logging in.
        from django.utils.translation import gettext_lazy as _

        from huibao.application.web.agent import is_agent
        from huibao.core.backoffice import register_section

        register_section(
            "application.agent", _("代理人投保"), "application:agent_home", test=is_agent, order=15, home=True
        )
