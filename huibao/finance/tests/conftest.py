"""A private platform CA (as the policy tests), the sandbox gateway delivering its
notifications through the test client, no injected failures unless a test asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huibao.finance.tests.booking_jobs import booking_jobs  # noqa: F401 (the fixture)
from huibao.sandbox.tests.platform import isolated_platform


@pytest.fixture(scope="session")
def _session_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("finance-var")


@pytest.fixture(autouse=True)
def _booking_jobs_recorded(request: pytest.FixtureRequest) -> None:
    """Every test records the booking jobs its issuances queue (`run_booking_jobs()` runs them)."""
    request.getfixturevalue("booking_jobs")


@pytest.fixture(autouse=True)
def _isolated(settings, monkeypatch, _session_var_dir: Path) -> Iterator[None]:
    yield from isolated_platform(settings, monkeypatch, _session_var_dir)
