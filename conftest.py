"""Test-wide configuration: deterministic hypothesis runs, no network."""

import logging
from collections.abc import Iterator

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
    from huibao.embedded.services import clear_offer_cache
    from huibao.partner.roster import clear_roster
    from huibao.rating.services import clear_cache

    clear_cache()
    clear_document_cache()
    clear_roster()
    clear_offer_cache()


class LogRecords(list[logging.LogRecord]):
    """Every record logged while the `every_record` fixture is active."""

    @staticmethod
    def text_of(record: logging.LogRecord) -> str:
        """All a record could put in a log: its formatted message, its arguments, its extras."""
        formatted = logging.Formatter("%(name)s %(message)s").format(record)
        return " ".join([formatted, repr(record.args), repr(getattr(record, "__dict__", {}))])

    def holding(self, secret: str) -> list[str]:
        """The texts of the records that hold `secret` anywhere."""
        return [text for text in map(self.text_of, self) if secret in text]


class _Everything(logging.Handler):
    def __init__(self, records: LogRecords) -> None:
        super().__init__(level=logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def every_record() -> Iterator[LogRecords]:
    """Every record of every logger at DEBUG, also of loggers that do not propagate ("django")."""
    records = LogRecords()
    handler = _Everything(records)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger, level in levels:
            logger.removeHandler(handler)
            logger.setLevel(level)
