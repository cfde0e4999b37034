"""Signed documents kept by the platform: application forms, e-policies, endorsements (批单) and
evidence exports, as signed PDF bytes.

A row is written once; the bytes never change (a re-issued document is a new row). `sha256` is
over the exact bytes, so a copy a customer shows later can be matched to what was issued. The
bytes hold personal data, so they are stored encrypted (base64 inside an encrypted column); use
the `pdf` property to read or set them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from django.db import models

from huibao.core.fields import EncryptedTextField


class SignedDocumentKind(models.TextChoices):
    APPLICATION_FORM = "application_form", "电子投保单"
    EPOLICY = "epolicy", "电子保单"
    EVIDENCE = "evidence", "回溯证据"
    ENDORSEMENT = "endorsement", "批单"


class SignedDocument(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=SignedDocumentKind.choices)
    reference = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=120)
    content_b64 = EncryptedTextField(context="esign.signed_document")
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        # An uploaded file is matched to what was issued by its digest (the verification page).
        indexes = [models.Index(fields=["kind", "sha256"], name="signed_document_kind_sha256")]

    def __str__(self) -> str:
        return self.filename

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("signed documents are written once")
        if not self.content_b64:
            raise ValueError("a signed document needs its PDF bytes")
        super().save(*args, **kwargs)

    @property
    def pdf(self) -> bytes:
        return base64.b64decode(self.content_b64) if self.content_b64 else b""

    @pdf.setter
    def pdf(self, value: bytes) -> None:
        self.content_b64 = base64.b64encode(bytes(value)).decode("ascii")
        self.sha256 = hashlib.sha256(bytes(value)).hexdigest()
