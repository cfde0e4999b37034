"""Application and underwriting rules of product versions: validated on import and publication,
and filled for every demo product (the simple accident product and the motor bundle included)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from django.core.management import call_command

from huibao.application.rules import parse_rules
from huibao.catalog import services
from huibao.catalog.demo import (
    SIMPLE_ACCIDENT_CODE,
    demo_auto_bundle_codes,
    generate_market,
    simple_accident_product_code,
)
from huibao.catalog.demo.lines import PLATE_PATTERN, VIN_PATTERN
from huibao.catalog.errors import ImportRejected, VersionNotPublishable
from huibao.catalog.io import rules_errors, schema_errors
from huibao.catalog.models import Document, DocumentKind, Product, ProductStatus, ProductVersion
from huibao.catalog.services import import_product
from huibao.catalog.tests.catalog_docs import product_document, reference_rows
from huibao.catalog.tests.factories import (
    CoverageFactory,
    DocumentFactory,
    PlanFactory,
    ProductVersionFactory,
)

SEED = 20261122
LIFE_LINES = {"accident", "critical_illness", "term_life", "whole_life"}


@pytest.fixture(scope="module")
def market():
    return generate_market(SEED, 200)


def test_every_demo_product_has_valid_rules(market) -> None:
    for product in market.products:
        version = product.document["version"]
        assert version["application_rules"], product.document["product"]["code"]
        assert schema_errors(product.document) == []
        assert rules_errors(version) == [], product.document["product"]["code"]


def test_demo_rules_follow_the_line(market) -> None:
    by_line = defaultdict(list)
    for product in market.products:
        by_line[product.document["product"]["line"]].append(product.document["version"])
    for line in LIFE_LINES:
        for version in by_line[line]:
            limits = version["underwriting"]["aggregate_limits"]
            assert {(lim.get("min_age", 0), lim["max_age"], lim["limit"]) for lim in limits} == {
                (0, 9, "200000"),
                (10, 17, "500000"),
            }
            assert version["application_rules"]["insured_consent"] == "death_cover_other_adult"
    for line in ("medical", "critical_illness", "term_life", "whole_life"):
        for version in by_line[line]:
            codes = {q["code"] for q in version["eligibility"]["health_questions"]}
            assert set(version["underwriting"]["questions"]) == codes & {
                "hospitalised",
                "abnormal_exam",
                "chronic",
                "cancer",
                "disability",
                "pregnant",
                "medication",
                "declined",
            }
            assert (
                version["underwriting"]["refer_age_above"] < version["eligibility"]["max_age"]
                or line == "critical_illness"
            )
    for line in ("critical_illness", "term_life", "whole_life"):
        assert all(v["application_rules"]["face_check"]["premium_at_least"] == "5000" for v in by_line[line])
    for line in ("term_life", "whole_life"):
        assert all(v["application_rules"]["beneficiary"] == "named_allowed" for v in by_line[line])
    for line in ("auto_compulsory", "auto_commercial"):
        for version in by_line[line]:
            rules = parse_rules(version["application_rules"])
            assert rules.insured_relations == ("self",) and rules.signature == "handwritten"
            assert [f.code for f in rules.subject] == ["plate_number", "vin", "vehicle_owner"]
    for line in ("return_shipping", "flight_delay", "phone_screen", "account_security"):
        assert {v["application_rules"]["signature"] for v in by_line[line]} == {"confirmation"}
    for line in ("return_shipping", "flight_delay"):
        assert {v["application_rules"]["effective"]["rule"] for v in by_line[line]} == {"same_day"}
    accident_signatures = [v["application_rules"]["signature"] for v in by_line["accident"]]
    assert accident_signatures.count("confirmation") == 1


def test_plate_and_vin_patterns() -> None:
    for plate in ("京A12345", "粤B123456", "沪AD12345"):
        assert re.fullmatch(PLATE_PATTERN, plate), plate
    for plate in ("京A1234", "AA12345", "京a12345", "京A1234567"):
        assert not re.fullmatch(PLATE_PATTERN, plate), plate
    assert re.fullmatch(VIN_PATTERN, "LSVAM4187C2184847")
    for vin in ("LSVAM4187C218484", "LSVAM4187C218484I", "lsvam4187c2184847"):
        assert not re.fullmatch(VIN_PATTERN, vin)


def test_the_simple_accident_product(market) -> None:
    assert simple_accident_product_code() == SIMPLE_ACCIDENT_CODE == "acc-zhongan-002"
    doc = next(p.document for p in market.products if p.document["product"]["code"] == SIMPLE_ACCIDENT_CODE)
    assert doc["product"]["line"] == "accident"
    assert doc["version"]["eligibility"]["health_questions"] == []
    assert doc["version"]["eligibility"]["regions"] == []
    assert doc["version"]["application_rules"]["signature"] == "confirmation"
    (terms,) = doc["documents"]
    assert terms["kind"] == "terms" and terms["min_read_seconds"] == 3
    assert [c["kind"] for c in terms["key_clauses"]] == ["exclusion", "other", "cooling_off"]


def test_the_motor_bundle_is_one_insurers(market) -> None:
    codes = demo_auto_bundle_codes()
    assert codes == ["ctp-cic-001", "car-cic-001", "acc-cic-003"]
    docs = {p.document["product"]["code"]: p.document for p in market.products}
    bundle = [docs[c] for c in codes]
    assert [d["product"]["line"] for d in bundle] == ["auto_compulsory", "auto_commercial", "accident"]
    assert {d["product"]["insurer"] for d in bundle} == {"cic"}
    assert "驾乘意外" in bundle[2]["product"]["name"]
    assert all(d["version"]["eligibility"]["regions"] == [] for d in bundle)
    relations = [set(parse_rules(d["version"]["application_rules"]).insured_relations) for d in bundle]
    assert set.intersection(*relations) == {"self"}


def test_the_codes_do_not_depend_on_the_seed() -> None:
    other = {p.document["product"]["code"]: p.document for p in generate_market(SEED + 7, 60).products}
    for code in [SIMPLE_ACCIDENT_CODE, *demo_auto_bundle_codes()]:
        assert code in other


@pytest.mark.django_db
def test_loaded_demo_sells_the_simple_product_and_the_bundle() -> None:
    call_command("load_demo", seed=SEED, products=80, verbosity=0)
    for code in [SIMPLE_ACCIDENT_CODE, *demo_auto_bundle_codes()]:
        product = Product.objects.get(code=code)
        assert product.status == ProductStatus.ON_SALE
        assert services.publication_problems(product.current_version) == []
    simple = Product.objects.get(code=SIMPLE_ACCIDENT_CODE).current_version
    assert list(simple.documents.values_list("kind", flat=True)) == ["terms"]


# --- validation on import and publication -----------------------------------------------------------


@pytest.mark.django_db
def test_import_refuses_bad_rules_naming_the_field() -> None:
    # given
    reference_rows()
    doc = product_document("medical")
    question = doc["version"]["eligibility"]["health_questions"][0]["code"]
    doc["version"]["underwriting"]["questions"] = {
        question: {"on_yes": "loading"},  # no loading_percent
        "smoker": {"on_yes": "refer"},  # not one of the product's questions
    }
    doc["version"]["application_rules"]["subject"] = [{"code": "plate", "label": "车牌", "pattern": "([A-Z"}]

    # when
    with pytest.raises(ImportRejected) as exc:
        import_product(doc)

    # then
    fields = {e.field for e in exc.value.errors}
    assert fields == {
        f"$.version.underwriting.questions.{question}.loading_percent",
        "$.version.underwriting.questions.smoker",
        "$.version.application_rules.subject[0].pattern",
    }
    assert all(e.message.startswith(e.field) for e in exc.value.errors)
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_the_schema_refuses_misspelt_rule_keys() -> None:
    reference_rows()
    doc = product_document("term_life")
    doc["version"]["underwriting"]["refer_age_abve"] = 50
    doc["version"]["application_rules"]["signature"] = "fingerprint"
    with pytest.raises(ImportRejected) as exc:
        import_product(doc)
    found = {(e.field, e.code) for e in exc.value.errors}
    assert ("$.version.underwriting", "schema.additionalProperties") in found
    assert ("$.version.application_rules.signature", "schema.enum") in found


@pytest.mark.django_db
def test_publication_refuses_bad_rules() -> None:
    version = ProductVersionFactory(
        underwriting={"aggregate_limits": [{"benefit": "death", "max_age": 9}]},
        application_rules={"beneficiary": "anyone"},
    )
    CoverageFactory(plan=PlanFactory(version=version))
    for kind in (DocumentKind.TERMS, DocumentKind.DISCLOSURE, DocumentKind.EXCLUSIONS):
        DocumentFactory(version=version, kind=kind)
    with pytest.raises(VersionNotPublishable) as exc:
        services.publish_version(version)
    assert {e.field for e in exc.value.errors} == {
        "underwriting.aggregate_limits[0].limit",
        "application_rules.beneficiary",
    }
    assert ProductVersion.objects.get(pk=version.pk).status == "draft"


@pytest.mark.django_db
def test_a_single_terms_document_stands_in_for_the_others_only_with_its_clauses() -> None:
    version = ProductVersionFactory()
    CoverageFactory(plan=PlanFactory(version=version))
    terms = DocumentFactory(version=version, kind=DocumentKind.TERMS)  # an exclusion key clause only
    assert [e.field for e in services.publication_problems(version)] == ["documents.disclosure"]
    terms.key_clauses = [
        *terms.key_clauses,
        {"code": "truthful_disclosure", "kind": "other", "title": "如实告知", "text": "…"},
    ]
    terms.save()
    assert services.publication_problems(version) == []
    Document.objects.create(version=version, kind=DocumentKind.DISCLOSURE, title="投保须知", body="…")
    assert [e.field for e in services.publication_problems(version)] == ["documents.exclusions"]
