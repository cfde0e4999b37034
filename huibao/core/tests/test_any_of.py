"""`field__any_of=values` (core.bulkcopy): the rows `field__in=values` finds, on PostgreSQL as
`= ANY(%s)` with one array parameter — for text, integer and foreign-key columns, and for no
values at all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.core import bulkcopy
from huibao.core.audit import record
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_any_of_finds_what_in_finds() -> None:
    # given
    for n in range(30):
        record("test.any_of", "thing", f"T{n}")
    ids = list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True))
    wanted = [f"T{n}" for n in range(0, 30, 3)] + ["absent"]
    # when
    with CaptureQueriesContext(connection) as queries:
        by_text = set(AuditEntry.objects.filter(object_id__any_of=wanted).values_list("object_id", flat=True))
        by_int = set(AuditEntry.objects.filter(pk__any_of=ids[5:9]).values_list("pk", flat=True))
        none = list(AuditEntry.objects.filter(object_id__any_of=[]))
    # then
    assert by_text == set(AuditEntry.objects.filter(object_id__in=wanted).values_list("object_id", flat=True))
    assert len(by_text) == 10 and by_int == set(ids[5:9]) and none == []
    if connection.vendor == "postgresql":
        assert all(" = ANY(" in q["sql"] for q in queries.captured_queries)
        assert all("T3" not in q["sql"].split("ANY(")[0] for q in queries.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array input syntax")
def test_an_array_literal_reads_back_as_the_values_it_was_made_of() -> None:
    import datetime
    from decimal import Decimal

    # given: strings with every character the array syntax gives a meaning to
    texts = [
        "",
        "NULL",
        "a,b",
        '{"k": "v\\\\n"}',
        'quote " and \\ backslash',
        "{}",
        " spaced ",
        "保险·金",
        "x\ty",
    ]
    columns = {
        "bigint": [1, 10_000_000_000, -3],
        "numeric": [Decimal("300.00"), Decimal("0.01"), Decimal("-2.5")],
        "date": [datetime.date(2026, 12, 8), datetime.date(1999, 1, 31)],
        "text": texts,
    }
    with connection.cursor() as cursor:
        for kind, values in columns.items():
            literal = bulkcopy.array_literal(values)
            assert isinstance(literal, str), kind
            # when
            cursor.execute(f"SELECT %s::{kind}[]", [literal])
            # then
            assert cursor.fetchone()[0] == values, kind
        cursor.execute("SELECT %s::bigint[]", [bulkcopy.array_literal([])])
        assert cursor.fetchone()[0] == []
    # what the text form cannot say is left to psycopg
    assert bulkcopy.array_literal([1, None]) == [1, None]
    assert bulkcopy.array_literal([True, False]) == [True, False]
    assert bulkcopy.array_literal(["a", 1]) == ["a", 1]


def test_any_of_finds_text_with_the_array_syntax_characters() -> None:
    # given
    odd = ['a"b', "c\\d", "e,f", "{g}", "NULL"]
    for value in [*odd, "plain"]:
        record("test.any_of", "thing", value)
    # when
    found = set(AuditEntry.objects.filter(object_id__any_of=odd).values_list("object_id", flat=True))
    # then
    assert found == set(odd)
