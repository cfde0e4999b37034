"""Core persistence: the append-only, hash-chained audit log.

Every sealed `AuditEntry` carries `seq`, `prev_hash` (the `entry_hash` of the entry before it) and
its own `entry_hash`, a SHA-256 over a canonical JSON of all its fields (see `huibao.core.audit`).
Entries are written by `huibao.core.audit.record` inside the business transaction without a place
in the chain (no lock is held); once committed, the sealer (`audit.seal_pending`) gives them their
seq, links and hashes them in written order under the single `AuditHead` row. Rows refuse update
and delete here, apart from that one sealing; on PostgreSQL a trigger refuses them too.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

GENESIS_HASH = "0" * 64


class AuditImmutable(Exception):
    """Raised on any attempt to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        # Sealing (seq, links, hash, seal time of unsealed rows) is written by
        # `huibao.core.audit.seal_pending` in SQL of its own, never through the ORM.
        raise AuditImmutable("audit entries are append-only: update() is refused")

    def delete(self) -> NoReturn:
        raise AuditImmutable("audit entries are append-only: delete() is refused")

    def _raw_delete(self, using: Any) -> NoReturn:
        raise AuditImmutable("audit entries are append-only: delete is refused")


class AuditEntry(models.Model):
    # Empty until sealed (see `huibao.core.audit.seal_pending`): the place in the chain is given
    # after the transaction that wrote the entry has committed.
    seq = models.PositiveBigIntegerField(unique=True, null=True, blank=True, editable=False)
    occurred_at = models.DateTimeField(editable=False)
    actor_id = models.BigIntegerField(null=True, blank=True, editable=False)
    actor_label = models.CharField(max_length=150, blank=True, default="", editable=False)
    action = models.CharField(max_length=64, editable=False)
    object_type = models.CharField(max_length=100, editable=False)
    object_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    before = models.JSONField(null=True, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    user_agent = models.CharField(max_length=512, blank=True, default="", editable=False)
    prev_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    # When the entry took its place in the chain; never earlier than the entry before it. Empty
    # on entries chained as they were written, before the sealer existed.
    sealed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        # Written order; the chain order is `seq`, which sealing gives.
        ordering = ["id"]
        verbose_name = "审计记录"
        verbose_name_plural = "审计记录"
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed_idx"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_positive")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutable(f"audit entry {self.seq} is append-only: it cannot be changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutable(f"audit entry {self.seq} is append-only: it cannot be deleted")


class AuditHead(models.Model):
    """One row (pk=1): the last sealed seq and hash. Sealers lock it to seal in turn."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # Seal time of the last entry (occurred_at before sealing was deferred): a new entry is never
    # sealed earlier, even if the clock steps back, so seal times rise with seq and a reordering shows.
    last_at = models.DateTimeField(null=True, blank=True)
    # The latest `occurred_at` sealed so far: an entry dated more than the allowed clock skew
    # before it is refused by the sealer (see `huibao.core.audit.seal_pending`).
    newest_occurred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")]

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class EvidenceRoot(models.Model):
    """One sealed batch of evidence: the Merkle root (`huibao.core.merkle`) over its leaves, written
    into the audit chain by one entry (object `core.evidenceroot`, id = this pk) instead of one
    entry per leaf. See `huibao.core.evidence` and docs/evidence.md."""

    kind = models.CharField(max_length=40)
    batch_ref = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    root = models.CharField(max_length=64)
    # The leaves' time too: their partition key (all leaves of a root share it).
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "证据批次"
        verbose_name_plural = "证据批次"
        constraints = [
            models.UniqueConstraint(fields=["kind", "batch_ref"], name="evidence_root_batch_unique"),
            models.CheckConstraint(condition=models.Q(size__gte=1), name="evidence_root_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.batch_ref} ({self.size})"


class EvidenceLeaf(models.Model):
    """One leaf of an `EvidenceRoot`: what is proven (`leaf_ref`, e.g. a policy number) and the
    SHA-256 digest of its evidence. Bulk-inserted by `seal`; partitioned by month on PostgreSQL
    (migration 0006), so nothing may point at it and its unique keys carry `created_at`."""

    root = models.ForeignKey(EvidenceRoot, on_delete=models.PROTECT, related_name="+", db_index=False)
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=40)
    leaf_ref = models.CharField(max_length=100)
    digest = models.BinaryField(max_length=32)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "证据叶"
        verbose_name_plural = "证据叶"
        constraints = [
            # With the partition key: every leaf of a root has the root's time, so this is
            # unique (root, index) in effect.
            models.UniqueConstraint(
                fields=["root", "index", "created_at"], name="evidence_leaf_position_unique"
            ),
        ]
        indexes = [models.Index(fields=["kind", "leaf_ref"], name="evidence_leaf_ref_idx")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.leaf_ref} #{self.index}"
