from django.apps import AppConfig


class PaymentConfig(AppConfig):
    name = "huibao.payment"
    label = "payment"
    verbose_name = "Payment"
