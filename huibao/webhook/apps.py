from django.apps import AppConfig


class WebhookConfig(AppConfig):
    name = "huibao.webhook"
    label = "webhook"
    verbose_name = "Webhooks to partners"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from huibao.core.backoffice import register_section

        register_section(
            "webhook.endpoints",
            _("合作方回调"),
            "webhook:endpoints",
            perm="webhook.view_webhookdelivery",
            order=420,
        )
