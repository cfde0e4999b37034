"""The real payment gateways: Alipay (`alipay.py`) and WeChat Pay API v3 (`wechatpay.py`).

Each adapter is registered with the payment port (`provider.register_provider`) by
`PaymentConfig.ready()` when its settings are complete (`core.deployment.GATEWAY_SETTINGS`);
`PAYMENT_PROVIDER` names the one new payments use. They sit at the services' level of the
payment app: they use models and the port, and nothing here calls a use-case.
"""

from __future__ import annotations

from django.conf import settings

from huibao.core.deployment import gateway_settings_missing
from huibao.payment.provider import register_provider


def register_configured() -> list[str]:
    """Registers each gateway whose settings are complete; returns their names."""
    values = dict(getattr(settings, "PAYMENT_GATEWAY_SETTINGS", {}))
    registered: list[str] = []
    if not gateway_settings_missing("alipay", values):
        from huibao.payment.gateways.alipay import AlipayProvider, AlipaySettings

        register_provider(AlipayProvider(AlipaySettings.from_settings()))
        registered.append("alipay")
    if not gateway_settings_missing("wechatpay", values):
        from huibao.payment.gateways.wechatpay import WeChatPayProvider, WeChatPaySettings

        register_provider(WeChatPayProvider(WeChatPaySettings.from_settings()))
        registered.append("wechatpay")
    return registered
