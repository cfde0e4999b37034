"""`field__any_of=values` (core.bulkcopy): the rows `field__in=values` finds, on PostgreSQL as
`= ANY(%s)` with one array parameter — for text, integer and foreign-key columns, and for no
values at all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.core import bulkcopy  # noqa: F401 (registers the look-up)
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
