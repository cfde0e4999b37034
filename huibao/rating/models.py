"""A quote: the product version, the inputs, every step of the calculation and the premium.

A quote is written once and never changed, so it can be explained and replayed against the same
version (`services.replay_quote`).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

# The short number's characters: no 0/O, 1/I/L, so it reads out and types back without doubt.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_RANDOM_LENGTH = 6


def new_quote_number() -> str:
    """Q + the Beijing date + 6 random characters (Q20261203K7M2QX): short enough to read out to
    customer service; unique by the constraint (the insert retries on a clash)."""
    tail = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(NUMBER_RANDOM_LENGTH))
    return f"Q{timezone.localdate():%Y%m%d}{tail}"


class Quote(models.Model):
    # The public id in URLs, forms and the API; customers read the short `number`.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True, null=True, blank=True, editable=False)
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
        return f"Quote {self.number or self.id} ¥{self.premium}"
