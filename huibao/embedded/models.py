"""What embedded sales leave behind: the evidence of each sale, the premium each call owes, and
the asynchronous batches with their per-chunk progress.

- `EmbeddedSaleEvidence`: one per policy sold this way — what the channel's page showed and the
  buyer agreed to, as canonical JSON with its SHA-256 (a leaf of the call's evidence root). The
  channel's order reference is unique per channel: the database's last guard against a second
  policy for one order.
- `ChannelPremiumBatch`: one per call (or per chunk of an asynchronous batch): how many policies
  it issued and the premium the channel owes for them (it collected the money at its checkout),
  and the root over its evidence digests.
- `EmbeddedBatch` / `EmbeddedBatchChunk`: a file of sales processed in chunks by a durable job;
  a chunk's row is written in the transaction that issues its policies, once (unique per batch
  and index), so a batch resumed after a crash finishes exactly once.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.embedded.states import BatchStatus

__all__ = ["ChannelPremiumBatch", "EmbeddedBatch", "EmbeddedBatchChunk", "EmbeddedSaleEvidence"]


class EmbeddedBatch(models.Model):
    """A file of sales a channel submitted for processing in the background (`submit_batch`).

    `rows` is the submitted sales as JSON, encrypted (insured names); `next_chunk` is how many
    chunks are done — it moves in the transaction that writes the chunk's policies."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey("distribution.SalesUnit", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    rows = EncryptedTextField(context="embedded.batch_rows")
    total = models.PositiveIntegerField()
    chunk_size = models.PositiveIntegerField()
    next_chunk = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    premium_total = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=0
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved with every chunk: a processing batch whose heartbeat is old has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("嵌入式批量投保")
        verbose_name_plural = _("嵌入式批量投保")
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="embedded_batch_status_beat")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="embedded_batch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(accepted__lte=models.F("total")) & Q(refused__lte=models.F("total")),
                name="embedded_batch_counts_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"


class ChannelPremiumBatch(models.Model):
    """The policies of one call (or one chunk of a batch) and the premium the channel owes for
    them; `evidence_root` is the root over the evidence digests of its policies."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batch_ref = models.CharField(max_length=40, unique=True)
    channel = models.ForeignKey("distribution.SalesUnit", on_delete=models.PROTECT, related_name="+")
    embedded_batch = models.ForeignKey(
        EmbeddedBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="premium_batches"
    )
    policy_count = models.PositiveIntegerField()
    premium_total = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    evidence_root = models.CharField(max_length=64)
    # The sealed Merkle root of its evidence (`core.evidence.seal`: one audit entry for it).
    evidence_seal = models.OneToOneField("core.EvidenceRoot", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("渠道保费批次")
        verbose_name_plural = _("渠道保费批次")
        indexes = [models.Index(fields=["channel", "created_at"], name="embedded_premium_channel_at")]
        constraints = [
            models.CheckConstraint(condition=Q(premium_total__gte=0), name="embedded_premium_not_negative"),
        ]

    def __str__(self) -> str:
        return self.batch_ref


class EmbeddedBatchChunk(models.Model):
    """One processed chunk of a batch: its rows' outcomes (JSON: index, order reference, status,
    policy number and premium, or the errors). Written once, with the chunk's policies."""

    batch = models.ForeignKey(EmbeddedBatch, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    outcomes = models.JSONField(default=list)
    premium_batch = models.OneToOneField(
        ChannelPremiumBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="chunk"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="embedded_chunk_once")]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.index}"


class EmbeddedSaleEvidence(models.Model):
    """The evidence of one embedded sale, as the channel sent it and Huibao checked it: the
    documents shown (ids and SHA-256), the consent time, the buyer's identity reference (hashed
    by the channel), the page version, the scenario fields and the price. `canonical` is its
    canonical JSON (sorted keys, no spaces), `digest` the SHA-256 of it: the leaf the batch's
    evidence root is built over (`leaf_index` in the batch)."""

    policy = models.OneToOneField("policy.Policy", on_delete=models.PROTECT, related_name="embedded_evidence")
    channel = models.ForeignKey("distribution.SalesUnit", on_delete=models.PROTECT, related_name="+")
    order_ref = models.CharField(max_length=64)
    premium_batch = models.ForeignKey(ChannelPremiumBatch, on_delete=models.PROTECT, related_name="evidence")
    batch_ref = models.CharField(max_length=40, db_index=True)
    leaf_index = models.PositiveIntegerField()
    canonical = models.TextField()
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["premium_batch_id", "leaf_index"]
        verbose_name = _("嵌入式销售证据")
        verbose_name_plural = _("嵌入式销售证据")
        constraints = [
            models.UniqueConstraint(fields=["channel", "order_ref"], name="embedded_order_once_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.order_ref}"
