"""The gateways' configuration: complete settings register an adapter; PAYMENT_PROVIDER naming an
incomplete one refuses to start, naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from huibao.core import deployment
from huibao.payment import gateways
from huibao.payment import provider as port
from huibao.payment.gateways.alipay import AlipayProvider
from huibao.payment.gateways.wechatpay import WeChatPayProvider
from huibao.payment.tests import gateway_support as g

KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


def _files(tmp_path: Path) -> dict[str, str]:
    for name, pem in (
        ("app.pem", g.keys("alipay-app").private_pem),
        ("alipay_public.pem", g.keys("alipay-gateway").public_pem),
        ("apiclient_key.pem", g.keys("wechat-merchant").private_pem),
        ("pub_key.pem", g.keys("wechat-platform").public_pem),
    ):
        (tmp_path / name).write_text(pem)
    return {
        "ALIPAY_APP_ID": g.ALIPAY_APP_ID,
        "ALIPAY_APP_PRIVATE_KEY_PATH": str(tmp_path / "app.pem"),
        "ALIPAY_PUBLIC_KEY_PATH": str(tmp_path / "alipay_public.pem"),
        "WECHATPAY_MCHID": g.WECHAT_MCHID,
        "WECHATPAY_APPID": g.WECHAT_APPID,
        "WECHATPAY_PRIVATE_KEY_PATH": str(tmp_path / "apiclient_key.pem"),
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "WECHATPAY_APIV3_KEY": KEY,
        "WECHATPAY_PLATFORM_CERT_DIR": "",
        "WECHATPAY_PUBLIC_KEY_PATH": str(tmp_path / "pub_key.pem"),
        "WECHATPAY_PUBLIC_KEY_ID": g.PUBLIC_KEY_ID,
    }


def test_each_missing_setting_is_named(tmp_path: Path) -> None:
    values = _files(tmp_path)
    assert deployment.gateway_settings_missing("alipay", values) == []
    assert deployment.gateway_settings_missing("wechatpay", values) == []
    missing = deployment.gateway_settings_missing(
        "alipay", {**values, "ALIPAY_APP_ID": "", "ALIPAY_PUBLIC_KEY_PATH": str(tmp_path / "nope.pem")}
    )
    assert missing == ["ALIPAY_APP_ID", f"ALIPAY_PUBLIC_KEY_PATH (no file at {tmp_path / 'nope.pem'})"]
    no_verifier = {**values, "WECHATPAY_PUBLIC_KEY_PATH": "", "WECHATPAY_APIV3_KEY": "short"}
    problems = deployment.gateway_settings_missing("wechatpay", no_verifier)
    assert problems[0] == "WECHATPAY_APIV3_KEY (the APIv3 key has 32 characters)"
    assert problems[1].startswith("WECHATPAY_PLATFORM_CERT_DIR, or WECHATPAY_PUBLIC_KEY_PATH and")
    # a certificate directory is the other way to verify
    cert_dir = {**no_verifier, "WECHATPAY_APIV3_KEY": KEY, "WECHATPAY_PLATFORM_CERT_DIR": str(tmp_path)}
    assert deployment.gateway_settings_missing("wechatpay", cert_dir) == []


def test_a_gateway_not_fully_configured_refuses_to_start(tmp_path: Path) -> None:
    values = _files(tmp_path)
    with pytest.raises(
        ImproperlyConfigured, match="PAYMENT_PROVIDER=wechatpay: not configured: WECHATPAY_MCHID"
    ):
        deployment.require_payment_gateway(
            "wechatpay", {**values, "WECHATPAY_MCHID": ""}, public_url="https://huibao.example", strict=True
        )
    with pytest.raises(ImproperlyConfigured, match="must be an https:// address"):
        deployment.require_payment_gateway("alipay", values, public_url="http://huibao.example", strict=True)
    # fine: complete and https; development may notify over http; the sandbox needs none of it
    deployment.require_payment_gateway("alipay", values, public_url="https://huibao.example", strict=True)
    deployment.require_payment_gateway("alipay", values, public_url="http://127.0.0.1:8000", strict=False)
    deployment.require_payment_gateway("sandbox", {}, public_url="http://x", strict=True)


def test_the_settings_do_not_load_on_an_unconfigured_gateway() -> None:
    # the real entry point: the settings module, in a process of its own
    env = {**os.environ, "PAYMENT_PROVIDER": "alipay", "ALIPAY_APP_ID": "2021000000000001"}
    env.pop("ALIPAY_APP_PRIVATE_KEY_PATH", None)
    result = subprocess.run(
        [sys.executable, "-c", "import huibao.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "PAYMENT_PROVIDER=alipay: not configured: ALIPAY_APP_PRIVATE_KEY_PATH, ALIPAY_PUBLIC_KEY_PATH" in (
        result.stderr
    )


def test_complete_settings_register_the_adapters(tmp_path: Path, settings) -> None:
    values = _files(tmp_path)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.PAYMENT_GATEWAY_SETTINGS = values
    before = dict(port._PROVIDERS)
    try:
        assert gateways.register_configured() == ["alipay", "wechatpay"]
        alipay = port.get_provider("alipay")
        wechat = port.get_provider("wechatpay")
        assert isinstance(alipay, AlipayProvider) and alipay.config.app_id == g.ALIPAY_APP_ID
        assert alipay.config.notify_url.endswith("/payment/notify/alipay/")
        assert isinstance(wechat, WeChatPayProvider) and wechat.config.public_key_id == g.PUBLIC_KEY_ID
        # one gateway missing a setting is simply not registered
        port._PROVIDERS.pop("alipay")
        settings.PAYMENT_GATEWAY_SETTINGS = {**values, "ALIPAY_APP_ID": ""}
        assert gateways.register_configured() == ["wechatpay"]
        assert "alipay" not in port._PROVIDERS
    finally:
        port._PROVIDERS.clear()
        port._PROVIDERS.update(before)
