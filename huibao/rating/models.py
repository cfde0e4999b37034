"""A quote: the product version, the inputs, every step of the calculation and the premium.

A quote is written once and never changed, so it can be explained and replayed against the same
version (`services.replay_quote`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class Quote(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product_version = models.ForeignKey(
        "catalog.ProductVersion", on_delete=models.PROTECT, related_name="quotes"
    )
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="quotes")
    inputs = models.JSONField()
    steps = models.JSONField()
    premium = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    engine_version = models.CharField(max_length=16)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="quotes"
    )
    channel = models.CharField(max_length=32, default="web")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(premium__gte=0), name="quote_premium_not_negative")
        ]

    def __str__(self) -> str:
        return f"Quote {self.id} ¥{self.premium}"
