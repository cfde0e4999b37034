from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class FloorRow(models.Model):
    """The row a floor request locks and updates: one per bench customer, as each customer's
    application is theirs, reached by public id and owner in one query as the real steps are."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    step = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"floor row {self.public_id}"
