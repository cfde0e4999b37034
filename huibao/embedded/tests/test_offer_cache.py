"""The per-process listings of embedded sale (products, versions, plans, documents, agreements)
are read once and then checked by ONE statement per call against the catalog and agreement
revision counters: an agreement revoked, or a new version published with new documents, is seen
by the very next call — whoever wrote the change (services, or a plain UPDATE)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.catalog import services as catalog_services
from huibao.catalog.models import DocumentKind, Product
from huibao.distribution import selectors as distribution_selectors
from huibao.distribution import services as distribution_services
from huibao.distribution.models import AgreementStatus, InsurerAgreement
from huibao.embedded import services
from huibao.embedded.tests import factories as f

pytestmark = pytest.mark.django_db


def codes(outcome):
    return {(e.field, e.code) for e in outcome.errors}


def _issue(channel, sales):
    with CaptureQueriesContext(connection) as ctx:
        outcomes = services.issue(channel, sales)
    return outcomes, [q["sql"] for q in ctx.captured_queries]


def _reads(statements, table):
    return [s for s in statements if s.lstrip().upper().startswith("SELECT") and f'"{table}"' in s]


def test_a_warm_call_reads_no_catalog_or_agreement_row_only_the_revisions():
    # given: one call made (the listings read)
    product = f.return_shipping()
    channel = f.channel()
    sale = f.sale(product)
    services.issue(channel, [f.sale(product)])
    # when
    [outcome], statements = _issue(channel, [sale])
    # then: accepted, and of the catalog and the agreements only the two counters were read
    assert outcome.accepted
    for table in ("catalog_product", "catalog_plan", "catalog_document", "distribution_insureragreement"):
        assert _reads(statements, table) == [], table
    assert len(_reads(statements, "distribution_agreementrevision")) == 1


def test_an_agreement_suspended_is_seen_by_the_very_next_call():
    # given: a warm call accepted
    product = f.return_shipping()
    channel = f.channel()
    [first], _ = _issue(channel, [f.sale(product)])
    assert first.accepted
    agreement = InsurerAgreement.objects.get(insurer=product.insurer, status=AgreementStatus.ACTIVE)
    before = distribution_selectors.agreement_revision()
    # when: the agreement suspended through its service
    distribution_services.transition(agreement, AgreementStatus.SUSPENDED, actor=None, reason="审计")
    [refused], statements = _issue(channel, [f.sale(product)])
    # then: the counter moved, the agreement was read again, the sale refused
    assert distribution_selectors.agreement_revision() > before
    assert _reads(statements, "distribution_insureragreement")
    assert not refused.accepted
    assert ("product_code", "agreement_suspended") in codes(refused)
    # and reactivated: the next call sells again
    distribution_services.transition(agreement, AgreementStatus.ACTIVE, actor=None)
    [again], _ = _issue(channel, [f.sale(product)])
    assert again.accepted


def test_an_agreement_ended_by_a_plain_update_is_seen_by_the_very_next_call():
    # given: a warm call accepted
    product = f.return_shipping()
    channel = f.channel()
    [first], _ = _issue(channel, [f.sale(product)])
    assert first.accepted
    # when: ended by an UPDATE that no service sees (the trigger moves the counter)
    InsurerAgreement.objects.filter(insurer=product.insurer).update(status=AgreementStatus.ENDED)
    [refused], _ = _issue(channel, [f.sale(product)])
    # then
    assert ("product_code", "agreement_ended") in codes(refused)


def test_a_product_removed_from_its_agreement_is_seen_by_the_very_next_call():
    # given: the agreement narrowed to another product of the insurer
    product = f.return_shipping()
    other = f.return_shipping()
    Product.objects.filter(pk=other.pk).update(insurer=product.insurer)
    channel = f.channel()
    agreement = InsurerAgreement.objects.get(insurer=product.insurer, status=AgreementStatus.ACTIVE)
    [first], _ = _issue(channel, [f.sale(product)])
    assert first.accepted
    # when: its products listed (the many-to-many table written, not the agreement row)
    agreement.products.set([other])
    [refused], _ = _issue(channel, [f.sale(product)])
    # then
    assert not refused.accepted
    assert ("product_code", "no_agreement") in codes(refused)


def test_a_new_version_published_with_a_new_document_is_seen_by_the_very_next_call():
    # given: a warm call accepted with version 1's documents
    product = f.return_shipping()
    channel = f.channel()
    old_documents = f.shown(product)
    [first], _ = _issue(channel, [f.sale(product, documents=old_documents)])
    assert first.accepted
    # when: version 2 published with a new disclosure
    draft = catalog_services.new_version(product)
    catalog_services.save_document(
        draft, kind=DocumentKind.DISCLOSURE, title="投保须知（2026版）", body="新的投保须知……"
    )
    catalog_services.publish_version(draft)
    product.refresh_from_db()
    assert product.current_version_id == draft.pk
    [stale], _ = _issue(channel, [f.sale(product, documents=old_documents)])
    [fresh], _ = _issue(channel, [f.sale(product)])
    # then: version 1's documents are no longer current; version 2's are
    assert not stale.accepted
    assert {c for _, c in codes(stale)} & {"not_current", "hash_mismatch", "missing_document"}
    assert fresh.accepted, fresh.errors


def test_a_product_taken_off_sale_is_seen_by_the_very_next_call():
    product = f.return_shipping()
    channel = f.channel()
    [first], _ = _issue(channel, [f.sale(product)])
    assert first.accepted
    catalog_services.take_off_sale(product)
    [refused], _ = _issue(channel, [f.sale(product)])
    assert ("product_code", "not_on_sale") in codes(refused)
