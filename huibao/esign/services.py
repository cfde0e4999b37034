"""Signed-document use-cases owned by the esign app."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from huibao.esign.models import SignedDocument


def purge_for_reference(
    reference: str, kinds: Iterable[str], *, also: Iterable[int] = (), dry_run: bool = False
) -> dict[str, int]:
    """Deletes the signed documents of `kinds` filed under `reference` (plus the rows `also`
    names) once what they document is deleted at the end of its retention; returns the count
    (what would be deleted, with `dry_run`). Runs in the caller's transaction; whatever still
    points at a document (a PROTECT foreign key) must be deleted first."""
    query = Q(reference=reference, kind__in=list(kinds))
    pks = [pk for pk in also if pk is not None]
    if pks:
        query |= Q(pk__in=pks)
    documents = SignedDocument.objects.filter(query)
    counts = {"signed_documents": documents.count()}
    if not dry_run and counts["signed_documents"]:
        documents.delete()
    return counts
