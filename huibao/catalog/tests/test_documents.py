"""The documents of product versions: a frozen version's read once per process, a draft's on
every call; the version sets a holder remembers stay bounded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.catalog import documents
from huibao.catalog.models import Document, ProductVersion, VersionStatus
from huibao.catalog.tests.factories import on_sale_product

pytestmark = pytest.mark.django_db


def _version() -> ProductVersion:
    version = on_sale_product().current_version
    assert version is not None
    return ProductVersion.objects.get(pk=version.pk)


def test_a_published_version_documents_are_read_once_then_shared() -> None:
    # given a published version whose documents were read once
    version = _version()
    first = documents.version_documents(version)
    assert first and [d.version_id for d in first] == [version.pk] * len(first)
    # when they are asked for again
    with CaptureQueriesContext(connection) as queries:
        again = documents.version_documents(version)
    # then nothing is read and the same rows come back in order
    assert len(queries) == 0 and [d.pk for d in again] == [d.pk for d in first]


def test_a_draft_version_documents_are_read_on_every_call() -> None:
    version = _version()
    ProductVersion.objects.filter(pk=version.pk).update(status=VersionStatus.DRAFT)
    draft = ProductVersion.objects.get(pk=version.pk)
    doc = documents.version_documents(draft)[0]
    Document.objects.filter(pk=doc.pk).update(title="修改后的条款")
    assert documents.version_documents(draft)[0].title == "修改后的条款"


def test_a_version_whose_status_was_not_loaded_counts_as_not_frozen() -> None:
    version = _version()
    deferred = ProductVersion.objects.only("pk").get(pk=version.pk)
    assert not documents.is_frozen(deferred) and documents.is_frozen(version)


def test_remembered_version_sets_are_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # given room for two sets
    monkeypatch.setattr(documents, "FROZEN_VERSION_SETS_MAX", 2)
    documents.clear_document_cache()
    # when three are remembered
    for key in ("a", "b", "c"):
        documents.remember_frozen_versions(key, [1, 2])
    # then the oldest went first
    assert documents.frozen_versions("a") is None
    assert documents.frozen_versions("b") == (1, 2) and documents.frozen_versions("c") == (1, 2)
    documents.clear_document_cache()
    assert documents.frozen_versions("c") is None
