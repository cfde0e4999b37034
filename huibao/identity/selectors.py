"""Read queries. Access is the caller's business: a check belongs to its (reference_kind,
reference_id), so reach it through the reference the caller already checked."""

from __future__ import annotations

from huibao.identity.models import FaceCheck, IdentityCheck


def latest_identity_check(reference_kind: str, reference_id: str) -> IdentityCheck | None:
    return (
        IdentityCheck.objects.filter(reference_kind=reference_kind, reference_id=str(reference_id))
        .order_by("-created_at", "-pk")
        .first()
    )


def latest_face_check(reference_kind: str, reference_id: str) -> FaceCheck | None:
    return (
        FaceCheck.objects.filter(reference_kind=reference_kind, reference_id=str(reference_id))
        .order_by("-created_at", "-pk")
        .first()
    )
