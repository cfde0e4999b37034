"""Outside development the platform refuses to start on a development part (sandbox providers,
console SMS) unless HUIBAO_ALLOW_SANDBOX names it; the parts allowed are announced on every page
and response."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from huibao.core import deployment

ROOT = Path(__file__).resolve().parents[3]
ALL_SANDBOX = {
    "payment_provider": "sandbox",
    "payout_provider": "sandbox",
    "identity_provider": "sandbox",
    "face_provider": "sandbox",
    "insurer_connectors": {},
    "sms_backend": "huibao.account.sms.ConsoleSmsBackend",
}
NONE_SANDBOX = {
    "payment_provider": "alipay",
    "payout_provider": "alipay",
    "identity_provider": "nciic",
    "face_provider": "tencent",
    "insurer_connectors": {"*": "picc"},
    "sms_backend": "huibao.account.sms.AliyunSmsBackend",
}


def test_every_development_part_in_use_is_named_with_its_setting():
    # when
    used = deployment.sandbox_parts_in_use(**ALL_SANDBOX)
    # then
    assert list(used) == ["payment", "payout", "identity", "face", "insurer", "sms"]
    assert used["payout"] == "PAYOUT_PROVIDER=sandbox"
    assert used["payment"] == "PAYMENT_PROVIDER=sandbox"
    assert used["sms"] == "SMS_BACKEND=huibao.account.sms.ConsoleSmsBackend"
    assert "HUIBAO_INSURER_CONNECTORS" in used["insurer"]
    assert deployment.sandbox_parts_in_use(**NONE_SANDBOX) == {}


@pytest.mark.parametrize(
    ("connectors", "sandboxed"),
    [
        ({}, True),  # every insurer falls back to the sandbox
        ({"PICC": "picc"}, True),  # the others still do
        ({"*": "picc"}, False),
        ({"*": "picc", "TPIC": "sandbox"}, True),
        ({"*": "sandbox", "PICC": "picc"}, True),
    ],
)
def test_an_insurer_served_by_the_sandbox_counts(connectors, sandboxed):
    used = deployment.sandbox_parts_in_use(**{**NONE_SANDBOX, "insurer_connectors": connectors})
    assert ("insurer" in used) is sandboxed


def test_strict_refuses_each_part_not_allowed_naming_the_setting():
    # given
    used = deployment.sandbox_parts_in_use(**ALL_SANDBOX)
    # when
    with pytest.raises(ImproperlyConfigured) as refused:
        deployment.enforce(strict=True, in_use=used, allowed=["payment", "identity", "face"])
    # then: the message names the setting and the parts left, not those allowed
    message = str(refused.value)
    assert message.startswith("HUIBAO_ALLOW_SANDBOX")
    assert "insurer (HUIBAO_INSURER_CONNECTORS" in message and "sms (SMS_BACKEND=" in message
    assert "payment (" not in message


def test_strict_with_every_part_allowed_announces_them():
    used = deployment.sandbox_parts_in_use(**ALL_SANDBOX)
    allowed = ["sms", "payment", " Insurer", "identity", "face", "payout"]
    assert deployment.enforce(strict=True, in_use=used, allowed=allowed) == (
        "payment",
        "payout",
        "identity",
        "face",
        "insurer",
        "sms",
    )


def test_development_uses_everything_and_announces_nothing():
    used = deployment.sandbox_parts_in_use(**ALL_SANDBOX)
    assert deployment.enforce(strict=False, in_use=used, allowed=[]) == ()
    assert deployment.enforce(strict=True, in_use={}, allowed=[]) == ()


def test_an_unknown_part_is_refused_in_any_mode():
    with pytest.raises(ImproperlyConfigured, match="HUIBAO_ALLOW_SANDBOX: unknown part"):
        deployment.enforce(strict=False, in_use={}, allowed=["paymnet"])


# --- every entry point loads the settings, so every one refuses ----------------------------------


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HUIBAO_", "DJANGO_"))}
    env.pop("DEBUG", None)
    env.update(
        {
            "HUIBAO_ENV": "production",
            "SECRET_KEY": "production-like-secret-key-for-the-startup-test-0123456789",
            "HUIBAO_DATA_KEYS": "k1:" + base64.b64encode(b"k" * 32).decode(),
            "HUIBAO_LOOKUP_KEY": base64.b64encode(b"l" * 32).decode(),
            "HUIBAO_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'startup.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "huibao.settings",
        }
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_check_deploy_and_wsgi_refuse_the_sandboxes(tmp_path):
    # given: production with the default (sandbox) providers and the console SMS backend
    env = _production_env(tmp_path)
    # when
    check = _run([sys.executable, "manage.py", "check", "--deploy"], env)
    wsgi = _run([sys.executable, "-c", "import huibao.wsgi"], env)
    # then
    for result in (check, wsgi):
        assert result.returncode != 0
        assert "ImproperlyConfigured: HUIBAO_ALLOW_SANDBOX" in result.stderr
        assert "PAYMENT_PROVIDER=sandbox" in result.stderr and "SMS_BACKEND=" in result.stderr
        assert "payout (PAYOUT_PROVIDER=sandbox)" in result.stderr


def test_production_refuses_the_sandbox_payout_provider_unless_named(tmp_path):
    # given: every other part real or allowed, payouts left on the sandbox
    env = _production_env(tmp_path, HUIBAO_ALLOW_SANDBOX="payment,identity,face,insurer,sms")
    # when
    refused = _run([sys.executable, "manage.py", "check"], env)
    allowed = _run(
        [sys.executable, "manage.py", "check"],
        {**env, "HUIBAO_ALLOW_SANDBOX": "payment,payout,identity,face,insurer,sms"},
    )
    real = _run([sys.executable, "manage.py", "check"], {**env, "PAYOUT_PROVIDER": "alipay"})
    # then
    assert refused.returncode != 0 and "payout (PAYOUT_PROVIDER=sandbox)" in refused.stderr
    assert "payment (" not in refused.stderr.split("ImproperlyConfigured")[-1]
    assert allowed.returncode == 0, allowed.stderr
    assert real.returncode == 0, real.stderr


def test_debug_off_outside_the_tests_refuses_too(tmp_path):
    env = _production_env(tmp_path, HUIBAO_ENV="development", DEBUG="0")
    result = _run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0 and "HUIBAO_ALLOW_SANDBOX" in result.stderr


def test_production_starts_when_each_sandbox_is_allowed(tmp_path):
    env = _production_env(tmp_path, HUIBAO_ALLOW_SANDBOX="payment,payout,identity,face,insurer,sms")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.HUIBAO_SANDBOX_NOTICE)"
    )
    result = _run([sys.executable, "-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('payment', 'payout', 'identity', 'face', 'insurer', 'sms')"


# --- the notice ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_and_responses_name_the_allowed_sandboxes(settings):
    # given
    settings.HUIBAO_SANDBOX_NOTICE = ("payment", "sms")
    # when
    page = Client().get("/")
    api = Client().get("/api/v1/products")
    # then
    assert page.status_code == 200
    assert 'class="sandbox-banner"' in page.text and 'data-sandbox-parts="payment,sms"' in page.text
    assert page["Huibao-Sandbox"] == "payment,sms" and api["Huibao-Sandbox"] == "payment,sms"


@pytest.mark.django_db
def test_without_an_allowed_sandbox_nothing_is_announced():
    page = Client().get("/")
    assert page.status_code == 200
    assert "sandbox-banner" not in page.text and "Huibao-Sandbox" not in page.headers
