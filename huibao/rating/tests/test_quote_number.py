"""The short quote number customers read: Q + Beijing date + 6 characters, unique."""

from __future__ import annotations

import re
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from huibao.rating import models, services
from huibao.rating.models import Quote
from huibao.rating.tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
INPUTS = {"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    services.clear_cache()
    yield
    services.clear_cache()


def quote(code: str) -> Quote:
    return services.create_quote(product_code=code, plan_code="standard", inputs=INPUTS)


@time_machine.travel("2026-12-02T17:30:00Z")  # 01:30 on 3 December in Beijing
def test_a_saved_quote_gets_a_short_number_of_the_beijing_date() -> None:
    code = factories.term_life_version().product.code
    first, second = quote(code), quote(code)
    assert re.fullmatch(r"Q20261203[2-9A-HJKMNP-Z]{6}", first.number or "")
    assert Quote.objects.get(pk=first.pk).number == first.number
    assert first.number != second.number
    assert str(first.id) not in first.number  # the UUID stays the public id, not the number


def test_a_clash_of_numbers_takes_another_inside_the_callers_transaction() -> None:
    code = factories.term_life_version().product.code
    taken = quote(code).number
    numbers = iter([taken, "Q20261203ABCDEF"])
    with transaction.atomic(), mock.patch.object(services, "new_quote_number", lambda: next(numbers)):
        again = quote(code)
        assert Quote.objects.filter(number=taken).count() == 1
    assert Quote.objects.get(pk=again.pk).number == "Q20261203ABCDEF"


def test_an_unsaved_quote_has_no_number() -> None:
    code = factories.term_life_version().product.code
    preview = services.create_quote(product_code=code, plan_code="standard", inputs=INPUTS, persist=False)
    assert preview.number is None and not Quote.objects.exists()
    assert models.new_quote_number().startswith("Q")


def test_inside_a_transaction_the_insert_needs_no_savepoint_and_endless_clashes_are_refused() -> None:
    code = factories.term_life_version().product.code
    taken = quote(code).number
    with transaction.atomic():
        # one statement per attempt: a clash inserts nothing and aborts nothing
        numbers = iter([taken, "Q20261203ABCDEG"])
        with (
            mock.patch.object(services, "new_quote_number", lambda: next(numbers)),
            CaptureQueriesContext(connection) as captured,
        ):
            again = quote(code)
        inserts = [q["sql"] for q in captured.captured_queries if "rating_quote" in q["sql"]]
        assert len(inserts) == 2 and all(q.lstrip().startswith("INSERT") for q in inserts), inserts
        assert not any("SAVEPOINT" in q["sql"] for q in captured.captured_queries)
        # and a number that is always taken is refused after the last attempt, the caller's
        # transaction still usable
        with mock.patch.object(services, "new_quote_number", lambda: taken), pytest.raises(IntegrityError):
            quote(code)
        assert Quote.objects.filter(number=taken).count() == 1
    assert Quote.objects.get(pk=again.pk).number == "Q20261203ABCDEG"
