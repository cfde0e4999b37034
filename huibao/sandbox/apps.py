from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "huibao.sandbox"
    label = "sandbox"
    verbose_name = "Sandboxes"

    def ready(self) -> None:
        # The sandboxes' modules register their notification channels as they load.
        from huibao.identity.provider import register_face_provider, register_identity_provider
        from huibao.payment.provider import register_provider
        from huibao.policy.connector import register_connector
        from huibao.sandbox import adapters

        register_provider(adapters.SandboxPaymentProvider())
        register_identity_provider(adapters.SandboxIdentityProvider())
        register_face_provider(adapters.SandboxFaceCheckProvider())
        register_connector(adapters.SandboxInsurer())
