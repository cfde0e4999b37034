from __future__ import annotations

from collections.abc import Iterator

import pytest

from huibao.identity import services
from huibao.sandbox import identity as sandbox


@pytest.fixture(autouse=True)
def _no_injected_failures() -> Iterator[None]:
    sandbox.force_failures(0)
    yield
    sandbox.force_failures(0)


@pytest.fixture(autouse=True)
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between registry attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(services, "_pause", recorded.append)
    return recorded
