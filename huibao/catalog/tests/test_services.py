from decimal import Decimal

import pytest

from huibao.catalog import services
from huibao.catalog.errors import DraftExists, VersionFrozen, VersionNotPublishable
from huibao.catalog.models import Document, DocumentKind, ProductStatus, VersionStatus
from huibao.catalog.selectors import catalog_revision
from huibao.catalog.services import import_product
from huibao.catalog.tests.catalog_docs import product_document, reference_rows
from huibao.core.errors import InvalidTransition
from huibao.core.models import AuditEntry
from huibao.rating import rules
from huibao.rating.services import build_rating_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    reference_rows()
    return import_product(product_document("medical"), actor="tester")


def audit_actions(obj_type, obj_id):
    return list(
        AuditEntry.objects.filter(object_type=obj_type, object_id=str(obj_id)).values_list(
            "action", flat=True
        )
    )


def test_publish_puts_the_product_on_sale_with_its_cheapest_premium(draft):
    # given
    revision = catalog_revision()

    # when
    version = services.publish_version(draft, actor="operator")

    # then
    product = version.product
    product.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED
    assert version.published_at is not None
    assert product.status == ProductStatus.ON_SALE
    assert product.current_version_id == version.pk
    expected = rules.cheapest_premium(build_rating_product(version))
    assert expected is not None and expected > 0
    assert product.premium_from == expected
    assert catalog_revision() > revision
    assert "catalog.version.publish" in audit_actions("catalog.productversion", version.pk)
    assert "catalog.product.publish" in audit_actions("catalog.product", product.pk)
    entry = AuditEntry.objects.get(action="catalog.version.publish")
    assert entry.actor_label == "operator"
    assert entry.before["status"] == "draft" and entry.after["status"] == "published"


def test_editing_a_product_on_sale_makes_a_new_draft_and_publishing_it_retires_the_old(draft):
    # given
    v1 = services.publish_version(draft)

    # when
    v2 = services.new_version(v1.product, actor="operator")
    services.update_draft(v2, tagline="新版：增加门诊责任")
    services.publish_version(v2)

    # then
    v1.refresh_from_db()
    v2.refresh_from_db()
    product = v2.product
    product.refresh_from_db()
    assert (v1.number, v2.number) == (1, 2)
    assert v1.status == VersionStatus.RETIRED
    assert v2.status == VersionStatus.PUBLISHED
    assert product.current_version_id == v2.pk
    assert v1.tagline != v2.tagline
    assert "catalog.version.retire" in audit_actions("catalog.productversion", v1.pk)


def test_new_version_copies_plans_coverages_and_documents(draft):
    # given
    v1 = services.publish_version(draft)

    # when
    v2 = services.new_version(v1.product)

    # then
    def content(version):
        plans = [
            (
                p.code,
                p.min_sum_insured,
                p.max_sum_insured,
                [(c.code, c.sum_insured, c.deductible) for c in p.coverages.all()],
            )
            for p in version.plans.prefetch_related("coverages")
        ]
        docs = [(d.kind, d.content_sha256) for d in version.documents.all()]
        return plans, docs

    assert v2.status == VersionStatus.DRAFT
    assert content(v2) == content(v1)
    assert v2.pricing == v1.pricing and v2.eligibility == v1.eligibility
    assert "catalog.version.create" in audit_actions("catalog.productversion", v2.pk)


def test_a_second_draft_is_refused(draft):
    # given
    v1 = services.publish_version(draft)
    services.new_version(v1.product)

    # when / then
    with pytest.raises(DraftExists) as exc:
        services.new_version(v1.product)
    assert exc.value.code == "draft_exists"
    assert services.draft_for_edit(v1.product).number == 2


def test_a_published_version_is_frozen(draft):
    # given
    version = services.publish_version(draft)

    # when / then
    with pytest.raises(VersionFrozen) as exc:
        services.update_draft(version, cooling_off_days=20)
    assert exc.value.code == "version_frozen"
    with pytest.raises(VersionFrozen):
        services.save_document(version, kind=DocumentKind.TERMS, title="改", body="改")
    version.refresh_from_db()
    assert version.cooling_off_days == 0


def test_update_draft_records_before_and_after(draft):
    # when
    services.update_draft(draft, actor="operator", cooling_off_days=15)

    # then
    draft.refresh_from_db()
    assert draft.cooling_off_days == 15
    entry = AuditEntry.objects.filter(action="catalog.version.update").get()
    assert entry.before == {"cooling_off_days": 0}
    assert entry.after == {"cooling_off_days": 15}


def test_update_draft_refuses_unknown_fields(draft):
    with pytest.raises(Exception) as exc:
        services.update_draft(draft, status="published")
    assert exc.value.errors[0].field == "status"
    assert exc.value.errors[0].code == "not_editable"


def test_publication_needs_the_required_documents(draft):
    # given
    Document.objects.filter(version=draft, kind=DocumentKind.EXCLUSIONS).delete()

    # when
    with pytest.raises(VersionNotPublishable) as exc:
        services.publish_version(draft)

    # then
    assert [e.field for e in exc.value.errors] == ["documents.exclusions"]
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert draft.product.status == ProductStatus.DRAFT


def test_publication_needs_a_pricing_spec_that_compiles(draft):
    # given
    pricing = dict(draft.pricing)
    pricing["steps"] = [*pricing["steps"], {"name": "broken", "expr": "premium * unknown_factor"}]
    services.update_draft(draft, pricing=pricing)

    # when
    with pytest.raises(VersionNotPublishable) as exc:
        services.publish_version(draft)

    # then
    assert exc.value.errors[0].field.startswith("pricing")
    assert exc.value.errors[0].code == "spec_error"


def test_publication_needs_plans(draft):
    # given
    draft.plans.all().delete()

    # when
    with pytest.raises(VersionNotPublishable) as exc:
        services.publish_version(draft)

    # then
    assert "plans" in [e.field for e in exc.value.errors]


def test_a_published_version_cannot_be_published_again(draft):
    version = services.publish_version(draft)
    with pytest.raises(InvalidTransition):
        services.publish_version(version)


def test_save_document_hashes_what_the_customer_reads(draft):
    # when
    doc = services.save_document(
        draft, kind=DocumentKind.PRIVACY, title="隐私政策", body="我们如何处理您的信息"
    )
    before = doc.content_sha256
    doc = services.save_document(
        draft, kind=DocumentKind.PRIVACY, title="隐私政策", body="我们如何处理您的个人信息"
    )

    # then
    assert len(before) == 64
    assert doc.content_sha256 == services.document_sha256("隐私政策", "我们如何处理您的个人信息", [])
    assert doc.content_sha256 != before
    assert draft.documents.filter(kind=DocumentKind.PRIVACY).count() == 1


def test_off_sale_and_back(draft):
    # given
    version = services.publish_version(draft)

    # when
    product = services.take_off_sale(version.product)

    # then
    assert product.status == ProductStatus.OFF_SALE
    with pytest.raises(InvalidTransition):
        services.take_off_sale(product)
    assert services.put_on_sale(product).status == ProductStatus.ON_SALE


def test_bump_revision_counts_up():
    first = services.bump_revision()
    assert services.bump_revision() == first + 1
    assert isinstance(first, int) and Decimal(first) >= 1
