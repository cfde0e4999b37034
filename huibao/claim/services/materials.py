"""Claim materials: upload from the phone (checked by content, size-limited, stored through
Django's storage API, duplicates across claims flagged) and removal before review."""

from __future__ import annotations

import hashlib
import re
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from huibao.catalog.claim_terms import MaterialKind
from huibao.claim import content
from huibao.claim.lifecycle import lock_claim
from huibao.claim.models import ClaimMaterial
from huibao.claim.selectors import claim_for_customer, material_for_customer
from huibao.claim.states import MATERIALS_OPEN, REMOVABLE
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, ValidationFailed

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
INVOICE_RE = re.compile(r"^[0-9A-Za-z-]{6,40}$")


def max_bytes() -> int:
    """The size limit of one material (`HUIBAO_CLAIM_MATERIAL_MAX_BYTES`, default 10 MB)."""
    return int(getattr(settings, "HUIBAO_CLAIM_MATERIAL_MAX_BYTES", DEFAULT_MAX_BYTES))


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def upload_material(
    user: Any, claim_id: Any, *, kind: str, file: IO[bytes], invoice_number: str = ""
) -> ClaimMaterial:
    """Adds one file to the customer's claim. Refused (nothing stored) when the claim does not
    take materials now, the kind is unknown, the file is over the limit, or its bytes are not a
    JPEG/PNG/HEIC image or a PDF — whatever its name says."""
    claim = claim_for_customer(user, claim_id)
    try:
        material_kind = MaterialKind(kind)
    except ValueError:
        raise _refuse("kind", "kind_invalid", "材料类型不正确") from None
    invoice_number = (invoice_number or "").strip()
    if invoice_number and not INVOICE_RE.match(invoice_number):
        raise _refuse("invoice_number", "invoice_number_invalid", "发票号码须为6至40位字母或数字")
    limit = max_bytes()
    data = file.read(limit + 1)
    if len(data) > limit:
        raise _refuse("file", "file_too_large", f"文件超过{limit // (1024 * 1024)}MB，请压缩后重新上传")
    if not data:
        raise _refuse("file", "file_empty", "文件是空的，请重新选择")
    sniffed = content.sniff(data)
    if not sniffed.ok:
        raise _refuse(
            "file", "file_type_invalid", "只能上传照片（JPG/PNG/HEIC）或PDF文件，该文件内容不是图片或PDF"
        )
    digest = hashlib.sha256(data).hexdigest()
    stored = ""
    try:
        with transaction.atomic():
            claim = lock_claim(claim.public_id)
            if claim.status not in MATERIALS_OPEN:
                raise Conflict(
                    "当前状态不能上传材料",
                    code="materials_closed",
                    errors=[FieldError("file", "materials_closed", "当前状态不能上传材料")],
                )
            duplicate = (
                ClaimMaterial.objects.filter(
                    Q(sha256=digest) | (Q(invoice_number=invoice_number) if invoice_number else Q(pk__in=[]))
                )
                .exclude(claim=claim)
                .order_by("uploaded_at", "id")
                .first()
            )
            material = ClaimMaterial(
                claim=claim,
                kind=material_kind.value,
                sha256=digest,
                content_type=sniffed.content_type,
                size=len(data),
                invoice_number=invoice_number,
                duplicate_of=duplicate,
                duplicate_reason=("sha256" if duplicate.sha256 == digest else "invoice") if duplicate else "",
                uploaded_at=timezone.now(),
            )
            material.file.save(f"m{sniffed.extension}", ContentFile(data), save=False)
            stored = material.file.name or ""
            material.save()
            audit.record(
                "claim.material_uploaded",
                "claim",
                claim.number,
                actor=user,
                after={
                    "material": str(material.public_id),
                    "kind": material.kind,
                    "sha256": digest,
                    "size": material.size,
                    "content_type": material.content_type,
                    "duplicate_of": str(duplicate.public_id) if duplicate else "",
                },
            )
    except Exception:
        if stored:  # the row was not written: the file must not stay behind
            default_storage.delete(stored)
        raise
    return material


def remove_material(user: Any, material_id: Any) -> None:
    """Removes one of the customer's materials while the claim is not yet submitted."""
    material = material_for_customer(user, material_id)
    with transaction.atomic():
        claim = lock_claim(material.claim.public_id)
        if claim.status not in REMOVABLE:
            raise Conflict(
                "提交审核后不能删除材料",
                code="materials_locked",
                errors=[FieldError("material", "materials_locked", "提交审核后不能删除材料")],
            )
        name = material.file.name
        audit.record(
            "claim.material_removed",
            "claim",
            claim.number,
            actor=user,
            before={"material": str(material.public_id), "kind": material.kind, "sha256": material.sha256},
        )
        material.delete()
        transaction.on_commit(lambda: default_storage.delete(name) if name else None)
