from __future__ import annotations

from collections.abc import Iterator

import pytest

from huibao.jobs import registry


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, registry.Job]]:
    """An empty job registry for the test (the apps' own jobs are put back after it)."""
    jobs: dict[str, registry.Job] = {}
    monkeypatch.setattr(registry, "_JOBS", jobs)
    yield jobs
