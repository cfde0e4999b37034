"""What the platform keeps of a signed notification it refuses (an insurer's acknowledgement or
claim notice, a gateway's payment or payout result, a face check's outcome): its notify id, read
from whichever header names it, and — where a flood of forged posts must not fill the database —
the refused message itself only within a budget per time window."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import models


def notify_id_of(headers: Mapping[str, str]) -> str:
    """The notify id a sender put in its `…-Notify-Id` header (any case, any prefix), or ""."""
    return next((str(v) for k, v in headers.items() if k.lower().endswith("notify-id")), "")


def keep_refused(
    model: type[models.Model],
    *,
    now: datetime.datetime,
    window: datetime.timedelta,
    budget: int,
    **fields: Any,
) -> bool:
    """Stores a refused message as a `model` row (`signature_ok=False`, with `fields`) unless
    `budget` refused rows were received within `window` before `now`; True when stored."""
    manager = model._default_manager
    if manager.filter(signature_ok=False, received_at__gte=now - window).count() >= budget:
        return False
    manager.create(signature_ok=False, **fields)
    return True
