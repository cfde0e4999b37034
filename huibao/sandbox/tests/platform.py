"""The test platform most service suites share: a private platform CA, the sandbox gateway
delivering its notifications through the test client, no injected failures unless a test asks.
A suite's conftest makes it an autouse fixture with its own session directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from huibao.esign import pdf
from huibao.payment.tests.factories import client_transport
from huibao.rating import services as rating
from huibao.sandbox import insurer as sandbox_insurer
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox_payment


def isolated_platform(settings: Any, monkeypatch: pytest.MonkeyPatch, var_dir: Path) -> Iterator[None]:
    settings.VAR_DIR = var_dir
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.HUIBAO_INSURER_SANDBOX_FAILURE_RATE = 0.0
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    sandbox_insurer.force_failures(0)
    sandbox_payment.MANDATE_FAULTS.force(0)
    rating.clear_cache()
    cache.clear()
    yield
    sandbox_payment.MANDATE_FAULTS.force(0)
    sandbox_insurer.force_failures(0)
    rating.clear_cache()
