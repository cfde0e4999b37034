"""A private platform CA for the whole session (no key touches var/), fast password hashing, and
a clean sandbox insurer between tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from huibao.esign import pdf
from huibao.sandbox import insurer as sandbox


@pytest.fixture(scope="session")
def _session_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-var")


@pytest.fixture(autouse=True)
def _isolated(settings, _session_var_dir: Path):
    settings.VAR_DIR = _session_var_dir
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.HUIBAO_INSURER_SANDBOX_FAILURE_RATE = 0.0
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    sandbox.force_failures(0)
    cache.clear()
    yield
    sandbox.force_failures(0)
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
