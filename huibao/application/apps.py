from django.apps import AppConfig


class ApplicationConfig(AppConfig):
    name = "huibao.application"
    label = "application"
    verbose_name = "Application"

    def ready(self) -> None:
        # The payment's "paid" hook issues the policies in the transaction confirming the payment;
        # the face-check hook records the provider's result on the application.
        from huibao.application import services
        from huibao.payment.services import register_paid_hook

        register_paid_hook(services.REFERENCE_KIND, services.on_payment_confirmed)
        try:
            from huibao.identity.services import register_face_result_hook
        except ImportError:  # pragma: no cover - the identity app is always installed
            return
        register_face_result_hook(services.REFERENCE_KIND, services.on_face_result)
