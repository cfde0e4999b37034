import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from huibao.catalog import services
from huibao.catalog.errors import ImportRejected
from huibao.catalog.io import export_product, schema_errors
from huibao.catalog.models import Plan, Product, ProductVersion, VersionStatus
from huibao.catalog.services import import_product
from huibao.catalog.tests.catalog_docs import product_document, reference_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def refs():
    reference_rows()


def test_schema_errors_name_the_json_path_and_the_rule(refs):
    # given
    doc = product_document("accident")
    doc["plans"][0]["min_sum_insured"] = 100000  # a JSON number, not a decimal string
    del doc["product"]["name"]
    doc["product"]["line"] = "space_travel"
    doc["documents"][1]["key_clauses"][0]["kind"] = "fine_print"

    # when
    with pytest.raises(ImportRejected) as exc:
        import_product(doc)

    # then
    found = {(e.field, e.code) for e in exc.value.errors}
    assert ("$.plans[0].min_sum_insured", "schema.type") in found
    assert ("$.product", "schema.required") in found
    assert ("$.product.line", "schema.enum") in found
    assert ("$.documents[1].key_clauses[0].kind", "schema.enum") in found
    assert all(e.message.startswith(e.field) for e in exc.value.errors)
    assert Product.objects.count() == 0


def test_references_and_content_rules_are_checked_after_the_schema(refs):
    # given
    doc = product_document("travel")
    doc["product"]["insurer"] = "no-such-insurer"
    doc["product"]["crowds"] = ["adults", "martians"]
    doc["plans"][1]["code"] = doc["plans"][0]["code"]
    doc["plans"][0]["min_sum_insured"] = "999999999"

    # when
    with pytest.raises(ImportRejected) as exc:
        import_product(doc)

    # then
    found = {(e.field, e.code) for e in exc.value.errors}
    assert found >= {
        ("$.product.insurer", "exists"),
        ("$.product.crowds", "exists"),
        ("$.plans", "unique"),
        ("$.plans[0].min_sum_insured", "range"),
    }
    assert Product.objects.count() == 0


def test_import_is_all_or_nothing(refs, monkeypatch):
    # given
    def fail(version, data):
        Plan.objects.create(version=version, code="half", name="half", min_sum_insured=1, max_sum_insured=1)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "write_content", fail)

    # when
    with pytest.raises(RuntimeError):
        import_product(product_document("pet"))

    # then
    assert Product.objects.count() == 0
    assert ProductVersion.objects.count() == 0
    assert Plan.objects.count() == 0


@pytest.mark.parametrize("line", ["medical", "auto_commercial", "term_life", "travel", "return_shipping"])
def test_round_trip_export_import_export(refs, line):
    # given
    doc = product_document(line)

    # when
    first = export_product(import_product(doc).product)
    Product.objects.all().update(current_version=None)
    ProductVersion.objects.all().delete()
    Product.objects.all().delete()
    second = export_product(import_product(json.loads(json.dumps(first))).product)

    # then
    assert first == doc
    assert second == first


def test_importing_over_a_published_version_makes_a_new_draft(refs):
    # given
    doc = product_document("medical")
    v1 = services.publish_version(import_product(doc))
    doc["version"]["tagline"] = "2027版"

    # when
    v2 = import_product(doc)
    v2_again = import_product(doc)

    # then
    assert v2.number == 2 and v2.status == VersionStatus.DRAFT
    assert v2_again.pk == v2.pk  # an open draft is replaced, not multiplied
    v1.refresh_from_db()
    assert v1.status == VersionStatus.PUBLISHED
    assert export_product(v1.product)["version"]["tagline"] != "2027版"
    assert export_product(v1.product, v2)["version"]["tagline"] == "2027版"


def test_a_product_cannot_change_line(refs):
    # given
    doc = product_document("medical")
    import_product(doc)
    doc["product"]["line"] = "accident"

    # when
    with pytest.raises(ImportRejected) as exc:
        import_product(doc)

    # then
    assert [(e.field, e.code) for e in exc.value.errors] == [("$.product.line", "immutable")]


def test_commands_export_yaml_and_import_with_publish(refs, tmp_path):
    # given
    version = import_product(product_document("pet"))
    services.publish_version(version)
    path = tmp_path / "pet.yaml"

    # when
    call_command("export_product", version.product.code, "--format", "yaml", "--output", str(path))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["version"]["tagline"] = "YAML 导入"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    call_command("import_product", str(path), "--publish")

    # then
    product = Product.objects.get(code=version.product.code)
    assert product.current_version.number == 2
    assert product.current_version.tagline == "YAML 导入"
    assert product.current_version.status == VersionStatus.PUBLISHED


def test_import_command_lists_every_error(refs, tmp_path):
    # given
    doc = product_document("pet")
    doc["plans"] = []
    doc["version"]["cooling_off_days"] = -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    # when
    with pytest.raises(CommandError) as exc:
        call_command("import_product", str(path))

    # then
    assert "$.plans" in str(exc.value)
    assert "$.version.cooling_off_days" in str(exc.value)


def test_every_generated_document_is_schema_valid():
    from huibao.catalog.demo import generate_market

    for product in generate_market(11, 40).products:
        assert schema_errors(product.document) == []
