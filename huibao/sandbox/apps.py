from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "huibao.sandbox"
    label = "sandbox"
    verbose_name = "Sandboxes"

    def ready(self) -> None:
        # The sandboxes' modules register their notification channels as they load.
        from huibao.identity.provider import register_face_provider, register_identity_provider
        from huibao.payment.provider import (
            register_mandate_provider,
            register_payout_provider,
            register_provider,
        )
        from huibao.policy.connector import register_connector
        from huibao.sandbox import adapters

        gateway = adapters.SandboxPaymentProvider()
        register_provider(gateway)
        register_mandate_provider(gateway)
        register_payout_provider(adapters.SandboxPayoutProvider())
        register_identity_provider(adapters.SandboxIdentityProvider())
        register_face_provider(adapters.SandboxFaceCheckProvider())
        register_connector(adapters.SandboxInsurer())
        # The flight-status feed: an event source of the claim app's trigger intake — trusted
        # outside development only where HUIBAO_ALLOW_SANDBOX names "flight" (its events pay).
        from django.conf import settings

        from huibao.claim.events_port import register_source
        from huibao.sandbox.flight_feed import SandboxFlightFeed

        if not settings.HUIBAO_STRICT or "flight" in settings.HUIBAO_ALLOW_SANDBOX:
            register_source(SandboxFlightFeed())
