"""A private platform CA and the sandbox gateway (as the claim tests: policies are issued for
real), and a clean cache for the rate-limit counters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huibao.sandbox.tests.platform import isolated_platform


@pytest.fixture(scope="session")
def _session_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("partner-var")


@pytest.fixture(autouse=True)
def _isolated(settings, monkeypatch, _session_var_dir: Path) -> Iterator[None]:
    yield from isolated_platform(settings, monkeypatch, _session_var_dir)
