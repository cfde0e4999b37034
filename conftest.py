"""Test-wide configuration: deterministic hypothesis runs, no network."""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "huibao",
    deadline=None,
    derandomize=True,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("huibao")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: they are the slowest, and Playwright's event loop must not be open
    while other tests run."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(autouse=True)
def _forget_compiled_products() -> None:
    """The rating engine caches compiled product versions, and the application flow the documents
    of frozen versions, by primary key for the life of the process. Tests roll their rows back,
    and SQLite hands the same keys out again, so a version cached in one test must not be seen by
    the next."""
    from huibao.catalog.documents import clear_document_cache
    from huibao.rating.services import clear_cache

    clear_cache()
    clear_document_cache()
