from __future__ import annotations

from pathlib import Path

import pytest

from huibao.esign import pdf


@pytest.fixture
def var_dir(tmp_path: Path, settings) -> Path:
    """A private VAR_DIR per test, so each test has its own CA and no key touches var/."""
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    yield settings.VAR_DIR
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
