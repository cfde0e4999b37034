from django.apps import AppConfig


class NotificationConfig(AppConfig):
    name = "huibao.notification"
    label = "notification"
    verbose_name = "消息通知"

    def ready(self) -> None:
        # The platform's generic templates; other apps register theirs in their own ready().
        from huibao.notification import catalogue

        catalogue.register_defaults()
