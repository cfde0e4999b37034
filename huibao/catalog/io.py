"""Import and export of a whole product version as one JSON document.

The format is `huibao/catalog/schema/product.schema.json` (JSON Schema draft 2020-12), documented
in `docs/catalog.md`. `export_product` → `services.import_product` → `export_product` gives the
same document. The conversion between the document and model field values lives here, in one place,
and is shared by the demo market loader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from huibao.catalog import rules as catalog_rules
from huibao.catalog.errors import ImportRejected
from huibao.catalog.models import (
    Coverage,
    Crowd,
    Document,
    Insurer,
    Plan,
    Product,
    ProductVersion,
    Scenario,
)
from huibao.catalog.rules import document_sha256
from huibao.core.errors import FieldError
from huibao.core.hooks import Hook

SCHEMA_PATH = Path(__file__).parent / "schema" / "product.schema.json"
SCHEMA_VERSION = 1

# Version fields carried by the document, in export order.
VERSION_FIELDS = ProductVersion.CONTENT_FIELDS
VERSION_DEFAULTS: dict[str, Any] = {
    "tagline": "",
    "description": "",
    "highlights": [],
    "renewal": {},
    "servicing": {},
    "claims": {},
    "value_added_services": [],
    "application_rules": {},
    "underwriting": {},
}


# A version carries the rule documents of the apps that apply them (`application_rules`,
# `underwriting`); those apps know what the documents mean and register their checks here in
# their `AppConfig.ready()`: each is handed the version's document and answers its problems,
# fields named under its own key. The catalog never imports them (they sit above it).
rules_checks: Hook[Mapping[str, Any], list[FieldError]] = Hook("catalog.rules_checks")


@cache
def product_schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(product_schema())


def _json_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_errors(data: object) -> list[FieldError]:
    """Every schema violation of `data`, each naming its JSON path and the rule it breaks."""
    errors = sorted(
        _validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator)
    )
    return [
        FieldError(field=_json_path(e), code=f"schema.{e.validator}", message=f"{_json_path(e)}: {e.message}")
        for e in errors
    ]


def _money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return _decimal_str(value)


def _decimal_str(value: Decimal) -> str:
    """'10000.00' → '10000', '0.600000' → '0.6': the shortest exact decimal string."""
    text = format(value.normalize(), "f")
    return text


# --- model → document ---------------------------------------------------------------------------


def coverage_to_dict(coverage: Coverage) -> dict[str, Any]:
    return {
        "code": coverage.code,
        "name": coverage.name,
        "description": coverage.description,
        "sort_order": coverage.sort_order,
        "is_optional": coverage.is_optional,
        "sum_insured": _money(coverage.sum_insured),
        "deductible": _money(coverage.deductible),
        "reimbursement_ratio": _decimal_str(coverage.reimbursement_ratio),
        "waiting_period_days": coverage.waiting_period_days,
        "per_claim_limit": _money(coverage.per_claim_limit),
        "annual_limit": _money(coverage.annual_limit),
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "code": plan.code,
        "name": plan.name,
        "sort_order": plan.sort_order,
        "min_sum_insured": _money(plan.min_sum_insured),
        "max_sum_insured": _money(plan.max_sum_insured),
        "sum_insured_step": _money(plan.sum_insured_step),
        "is_recommended": plan.is_recommended,
        "coverages": [coverage_to_dict(c) for c in plan.coverages.all()],
    }


def document_to_dict(document: Document) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "title": document.title,
        "body": document.body,
        "min_read_seconds": document.min_read_seconds,
        "sort_order": document.sort_order,
        "key_clauses": document.key_clauses,
    }


def version_to_dict(version: ProductVersion) -> dict[str, Any]:
    product = version.product
    return {
        "schema_version": SCHEMA_VERSION,
        "product": {
            "code": product.code,
            "name": product.name,
            "insurer": product.insurer.code,
            "line": product.line,
            "crowds": sorted(c.code for c in product.crowds.all()),
            "scenarios": sorted(s.code for s in product.scenarios.all()),
        },
        "version": {name: getattr(version, name) for name in VERSION_FIELDS},
        "plans": [plan_to_dict(p) for p in version.plans.prefetch_related("coverages")],
        "documents": [document_to_dict(d) for d in version.documents.all()],
    }


def export_product(product: Product, version: ProductVersion | None = None) -> dict[str, Any]:
    """The document of `version`, by default the current version (or the latest one if none is on sale)."""
    if version is None:
        version = product.current_version or product.versions.order_by("-number").first()
    if version is None:
        raise ImportRejected(
            f"product {product.code} has no version to export",
            code="no_version",
            errors=[FieldError("product", "no_version", "the product has no version")],
        )
    if version.product_id != product.pk:
        raise ImportRejected(
            "version does not belong to product",
            code="version_mismatch",
            errors=[
                FieldError("version", "version_mismatch", f"{version} is not a version of {product.code}")
            ],
        )
    return version_to_dict(version)


# --- document → model field values ---------------------------------------------------------------


def version_kwargs(data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: data.get(name, VERSION_DEFAULTS.get(name)) for name in VERSION_FIELDS}


def plan_kwargs(data: Mapping[str, Any], index: int) -> dict[str, Any]:
    return {
        "code": data["code"],
        "name": data["name"],
        "sort_order": data.get("sort_order", index),
        "min_sum_insured": Decimal(data["min_sum_insured"]),
        "max_sum_insured": Decimal(data["max_sum_insured"]),
        "sum_insured_step": Decimal(data.get("sum_insured_step") or "0"),
        "is_recommended": data.get("is_recommended", False),
    }


def coverage_kwargs(data: Mapping[str, Any], index: int) -> dict[str, Any]:
    def opt(name: str) -> Decimal | None:
        value = data.get(name)
        return None if value is None else Decimal(value)

    return {
        "code": data["code"],
        "name": data["name"],
        "description": data.get("description", ""),
        "sort_order": data.get("sort_order", index),
        "is_optional": data.get("is_optional", False),
        "sum_insured": Decimal(data["sum_insured"]),
        "deductible": Decimal(data.get("deductible") or "0"),
        "reimbursement_ratio": Decimal(data.get("reimbursement_ratio") or "1"),
        "waiting_period_days": data.get("waiting_period_days", 0),
        "per_claim_limit": opt("per_claim_limit"),
        "annual_limit": opt("annual_limit"),
    }


def document_kwargs(data: Mapping[str, Any], index: int) -> dict[str, Any]:
    key_clauses = data.get("key_clauses", [])
    return {
        "kind": data["kind"],
        "title": data["title"],
        "body": data["body"],
        "key_clauses": key_clauses,
        "min_read_seconds": data.get("min_read_seconds", 10),
        "sort_order": data.get("sort_order", index),
        "content_sha256": document_sha256(data["title"], data["body"], key_clauses),
    }


# --- checks beyond the schema -------------------------------------------------------------------


def _duplicates(codes: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dupes: set[str] = set()
    for code in codes:
        (dupes if code in seen else seen).add(code)
    return dupes


def content_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Rules a schema cannot express: unique codes, sum-insured ranges. `data` is schema-valid."""
    errors: list[FieldError] = []
    plans = data["plans"]
    for code in sorted(_duplicates(p["code"] for p in plans)):
        errors.append(FieldError("$.plans", "unique", f"$.plans: plan code '{code}' appears more than once"))
    for i, plan in enumerate(plans):
        path = f"$.plans[{i}]"
        if Decimal(plan["min_sum_insured"]) > Decimal(plan["max_sum_insured"]):
            errors.append(
                FieldError(
                    f"{path}.min_sum_insured",
                    "range",
                    f"{path}.min_sum_insured: must not exceed max_sum_insured ({plan['max_sum_insured']})",
                )
            )
        for code in sorted(_duplicates(c["code"] for c in plan["coverages"])):
            errors.append(
                FieldError(
                    f"{path}.coverages",
                    "unique",
                    f"{path}.coverages: coverage code '{code}' appears more than once",
                )
            )
    for kind in sorted(_duplicates(d["kind"] for d in data["documents"])):
        errors.append(
            FieldError("$.documents", "unique", f"$.documents: document kind '{kind}' appears more than once")
        )
    product = data["product"]
    embedded = catalog_rules.embedded_sale_problems(
        product["line"], product.get("scenarios", []), data["version"].get("application_rules")
    )
    for problem in [*rules_errors(data["version"]), *embedded]:
        path = f"$.version.{problem.field}"
        errors.append(FieldError(path, problem.code, f"{path}: {problem.message}"))
    return errors


def rules_errors(version: Mapping[str, Any]) -> list[FieldError]:
    """Problems of a version's `underwriting` and `application_rules` (fields named under those
    keys), checked by the apps that apply them (`rules_checks`)."""
    return [problem for problems in rules_checks.announce(version) for problem in problems]


def reference_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Insurer, crowd and scenario codes must exist; a product's insurer and line never change."""
    errors: list[FieldError] = []
    product = data["product"]
    if not Insurer.objects.filter(code=product["insurer"]).exists():
        errors.append(
            FieldError(
                "$.product.insurer",
                "exists",
                f"$.product.insurer: no insurer with code '{product['insurer']}'",
            )
        )
    for field, model in (("crowds", Crowd), ("scenarios", Scenario)):
        wanted = set(product.get(field, []))
        found = set(model.objects.filter(code__in=wanted).values_list("code", flat=True))
        for code in sorted(wanted - found):
            errors.append(
                FieldError(f"$.product.{field}", "exists", f"$.product.{field}: no {field[:-1]} '{code}'")
            )
    existing = Product.objects.filter(code=product["code"]).select_related("insurer").first()
    if existing is not None:
        if existing.insurer.code != product["insurer"]:
            errors.append(
                FieldError(
                    "$.product.insurer",
                    "immutable",
                    f"$.product.insurer: product {existing.code} belongs to {existing.insurer.code};"
                    " it cannot move",
                )
            )
        if existing.line != product["line"]:
            errors.append(
                FieldError(
                    "$.product.line",
                    "immutable",
                    f"$.product.line: product {existing.code} is '{existing.line}'; the line cannot change",
                )
            )
    return errors


def import_errors(data: object) -> list[FieldError]:
    """All errors of a document: schema first; content and references only for a schema-valid one."""
    errors = schema_errors(data)
    if errors:
        return errors
    assert isinstance(data, Mapping)
    return content_errors(data) + reference_errors(data)
