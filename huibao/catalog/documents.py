"""The documents of product versions, and the coverages of their plans, read once per process
for frozen versions.

A frozen (published or retired) version's documents never change (`catalog.services` refuses to
edit them), so they are read once per process; a draft's are read on every call. The instances
are shared between requests and threads: read them, never change or save them.

Holders of several versions (an application's items) may also remember which versions they use
once all of them are frozen (`remember_frozen_versions` / `frozen_versions`), keyed by whatever
identifies the set for them; such a set never goes stale as long as the key changes whenever the
set does.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping

from huibao.catalog.models import Coverage, Document, ProductVersion, VersionStatus

_frozen_documents: dict[int, tuple[Document, ...]] = {}
# The coverages of the plans of frozen versions, by plan id (a frozen version's plans and their
# coverages never change either).
_frozen_coverages: dict[int, tuple[Coverage, ...]] = {}
_frozen_documents_lock = threading.Lock()

# Sets of frozen versions by their holder's key. Bounded: the oldest entries go first.
_frozen_version_sets: dict[Hashable, tuple[int, ...]] = {}
FROZEN_VERSION_SETS_MAX = 4096


def clear_document_cache() -> None:
    """For tests: forget the documents of frozen versions and the remembered version sets (tests
    roll their rows back, and SQLite hands the same keys out again)."""
    with _frozen_documents_lock:
        _frozen_documents.clear()
        _frozen_version_sets.clear()
        _frozen_coverages.clear()


def is_frozen(version: ProductVersion) -> bool:
    """The version is published or retired; a version whose status was not loaded counts as not
    frozen (read, not cached) rather than costing a query."""
    return "status" not in version.get_deferred_fields() and version.status != VersionStatus.DRAFT


def frozen_versions(key: Hashable) -> tuple[int, ...] | None:
    """The version ids remembered under `key` (all frozen), or None."""
    return _frozen_version_sets.get(key)


def remember_frozen_versions(key: Hashable, version_ids: Iterable[int]) -> None:
    """Remembers the version ids under `key`; every one of them must be frozen."""
    with _frozen_documents_lock:
        while len(_frozen_version_sets) >= FROZEN_VERSION_SETS_MAX:
            del _frozen_version_sets[next(iter(_frozen_version_sets))]
        _frozen_version_sets[key] = tuple(version_ids)


def documents_of_versions(versions: Mapping[int, bool]) -> list[Document]:
    """The documents of the versions (id → frozen) ordered by version, sort order and id."""
    found = {vid: _frozen_documents.get(vid) for vid in versions}
    missing = sorted(vid for vid, docs in found.items() if docs is None)
    if missing:
        loaded: dict[int, list[Document]] = {vid: [] for vid in missing}
        for doc in Document.objects.filter(version_id__in=missing).order_by("version_id", "sort_order", "id"):
            loaded[doc.version_id].append(doc)
        with _frozen_documents_lock:
            for vid, rows in loaded.items():
                found[vid] = kept = tuple(rows)
                if versions[vid]:
                    _frozen_documents[vid] = kept
    return [doc for vid in sorted(found) for doc in found[vid] or ()]


def version_documents(version: ProductVersion) -> list[Document]:
    """The documents of one product version in their order (sort order, id); a frozen version's
    from the per-process cache: read them, never change them."""
    return documents_of_versions({version.pk: is_frozen(version)})


def coverages_of_plans(plans: Mapping[int, bool]) -> dict[int, tuple[Coverage, ...]]:
    """The coverages of the plans (plan id → its version is frozen, `is_frozen`), each plan's in
    its order (sort order, code); a frozen version's from the per-process cache (read them, never
    change them). One query for the plans not cached, none when all are."""
    found: dict[int, tuple[Coverage, ...] | None] = {pid: _frozen_coverages.get(pid) for pid in plans}
    missing = sorted(pid for pid, rows in found.items() if rows is None)
    if missing:
        loaded: dict[int, list[Coverage]] = {pid: [] for pid in missing}
        for coverage in Coverage.objects.filter(plan_id__in=missing).order_by(
            "plan_id", "sort_order", "code"
        ):
            loaded[coverage.plan_id].append(coverage)
        with _frozen_documents_lock:
            for pid, rows in loaded.items():
                found[pid] = kept = tuple(rows)
                if plans[pid]:
                    _frozen_coverages[pid] = kept
    return {pid: rows or () for pid, rows in found.items()}
