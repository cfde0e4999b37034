"""The floor step: the least any recorded step of the application flow must do."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from huibao.benchmark.models import FloorRow
from huibao.core import audit
from huibao.core.errors import NotFound


def floor_step(user: Any, public_id: uuid.UUID, step: int, *, request: HttpRequest | None = None) -> FloorRow:
    """One locked read of the caller's row (ownership in the same query, as the real steps read
    their application), one audit entry, one small update; the caller answers a small JSON."""
    with transaction.atomic():
        row = FloorRow.objects.select_for_update().filter(public_id=public_id, owner=user).first()
        if row is None:
            raise NotFound("基准行不存在", code="floor_row_not_found")
        audit.record(
            "bench.floor_step",
            "benchmark.floorrow",
            str(row.public_id),
            before={"step": row.step},
            after={"step": step},
            request=request,
        )
        row.step = step
        row.steps_done += 1
        row.save(update_fields=["step", "steps_done", "updated_at"])
    return row
