"""Catalog use-cases: publish a version, open a new draft, edit a draft, import a document.

Each function owns its transaction, locks the product row it changes, checks the status
transition against `huibao.catalog.states`, writes an audit entry for every change and moves the
`CatalogRevision` counter so caches (search index, compiled rating specs) know to rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from huibao.catalog import io, rating_port
from huibao.catalog import rules as catalog_rules
from huibao.catalog.errors import DraftExists, ImportRejected, VersionFrozen, VersionNotPublishable
from huibao.catalog.io import rules_errors
from huibao.catalog.models import (
    CatalogRevision,
    Coverage,
    Crowd,
    Document,
    DocumentKind,
    Insurer,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    Scenario,
    VersionStatus,
)
from huibao.catalog.rules import document_sha256
from huibao.catalog.states import PRODUCT_TRANSITIONS, VERSION_TRANSITIONS
from huibao.core import audit
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.states import check_transition

REQUIRED_DOCUMENTS: tuple[str, ...] = (DocumentKind.TERMS, DocumentKind.DISCLOSURE, DocumentKind.EXCLUSIONS)

# Fields of a draft version that `update_draft` may change.
EDITABLE_VERSION_FIELDS: frozenset[str] = frozenset(ProductVersion.CONTENT_FIELDS)

OBJ_PRODUCT = "catalog.product"
OBJ_VERSION = "catalog.productversion"
OBJ_DOCUMENT = "catalog.document"


# --- small helpers -------------------------------------------------------------------------------


def bump_revision() -> int:
    """Moves the catalog revision counter and returns the new value."""
    updated = CatalogRevision.objects.filter(pk=1).update(counter=F("counter") + 1, changed_at=timezone.now())
    if not updated:
        CatalogRevision.objects.get_or_create(pk=1, defaults={"counter": 0})
        CatalogRevision.objects.filter(pk=1).update(counter=F("counter") + 1, changed_at=timezone.now())
    return CatalogRevision.objects.values_list("counter", flat=True).get(pk=1)


def _version_state(version: ProductVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "status": version.status,
        "published_at": version.published_at.isoformat() if version.published_at else None,
    }


def _product_state(product: Product) -> dict[str, Any]:
    return {
        "status": product.status,
        "current_version_id": product.current_version_id,
        "premium_from": str(product.premium_from) if product.premium_from is not None else None,
    }


def _record(
    action: str, obj_type: str, obj_id: object, *, actor: Any, before: Any, after: Any, request: Any
) -> None:
    audit.record(action, obj_type, str(obj_id), actor=actor, before=before, after=after, request=request)


def _lock_version(version: ProductVersion) -> tuple[Product, ProductVersion]:
    product = Product.objects.select_for_update().get(pk=version.product_id)
    locked = ProductVersion.objects.select_for_update().get(pk=version.pk)
    return product, locked


def _refuse_frozen(version: ProductVersion) -> None:
    if version.is_frozen:
        raise VersionFrozen(
            f"{version.product.code} v{version.number} is {version.status} and cannot be edited;"
            " open a new draft version instead",
            errors=[FieldError("version", "version_frozen", f"version {version.number} is {version.status}")],
        )


# --- validation before publication ---------------------------------------------------------------


def _covered_by_single_terms(documents: Sequence[Document]) -> set[str]:
    """Document kinds a simple product's only document, its terms, stands in for (极简投保): the
    exclusions when it has `exclusion` key clauses, the notice to applicants when it has the
    `truthful_disclosure` key clause. Each is then shown and confirmed as a key clause."""
    if len(documents) != 1 or documents[0].kind != DocumentKind.TERMS:
        return set()
    clauses = [c for c in documents[0].key_clauses if isinstance(c, Mapping)]
    covered: set[str] = set()
    if any(c.get("kind") == "exclusion" for c in clauses):
        covered.add(DocumentKind.EXCLUSIONS)
    if any(c.get("code") == "truthful_disclosure" for c in clauses):
        covered.add(DocumentKind.DISCLOSURE)
    return covered


def publication_problems(version: ProductVersion) -> list[FieldError]:
    """Everything that stops `version` from going on sale; empty when it may be published."""
    problems: list[FieldError] = []
    plans = list(version.plans.prefetch_related("coverages"))
    if not plans:
        problems.append(FieldError("plans", "required", "a version needs at least one plan"))
    for plan in plans:
        if not plan.coverages.all():
            problems.append(
                FieldError(f"plans.{plan.code}.coverages", "required", f"plan {plan.code} has no coverage")
            )
    documents = list(version.documents.only("kind", "key_clauses"))
    kinds = {d.kind for d in documents}
    covered = _covered_by_single_terms(documents)
    for kind in REQUIRED_DOCUMENTS:
        if kind not in kinds and kind not in covered:
            label = DocumentKind(kind).label
            problems.append(
                FieldError(f"documents.{kind}", "required", f"document '{kind}' ({label}) is missing")
            )
    if not version.term_options:
        problems.append(FieldError("term_options", "required", "at least one term option is needed"))
    if not version.payment_modes:
        problems.append(FieldError("payment_modes", "required", "at least one payment mode is needed"))
    problems.extend(rating_port.pricing_problems(version))
    if (version.application_rules or {}).get("embedded_sale") is not None:
        product = version.product
        problems.extend(
            catalog_rules.embedded_sale_problems(
                product.line, product.scenarios.values_list("code", flat=True), version.application_rules
            )
        )
    problems.extend(
        rules_errors(
            {
                "underwriting": version.underwriting,
                "application_rules": version.application_rules,
                "eligibility": version.eligibility,
            }
        )
    )
    return problems


# --- use-cases -----------------------------------------------------------------------------------


def publish_version(version: ProductVersion, *, actor: Any = None, request: Any = None) -> ProductVersion:
    """Puts a draft version on sale: the previous published version retires, the product points here."""
    with transaction.atomic():
        product, version = _lock_version(version)
        check_transition(
            VERSION_TRANSITIONS,
            version.status,
            VersionStatus.PUBLISHED,
            what=f"{product.code} v{version.number}",
        )
        problems = publication_problems(version)
        if problems:
            raise VersionNotPublishable(
                f"{product.code} v{version.number} cannot be published: "
                + "; ".join(f"{p.field}: {p.message}" for p in problems),
                errors=problems,
            )
        now = timezone.now()
        previous = (
            ProductVersion.objects.select_for_update()
            .filter(product=product, status=VersionStatus.PUBLISHED)
            .exclude(pk=version.pk)
        )
        for old in previous:
            before = _version_state(old)
            check_transition(
                VERSION_TRANSITIONS, old.status, VersionStatus.RETIRED, what=f"{product.code} v{old.number}"
            )
            old.status = VersionStatus.RETIRED
            old.save(update_fields=["status"])
            _record(
                "catalog.version.retire",
                OBJ_VERSION,
                old.pk,
                actor=actor,
                before=before,
                after=_version_state(old),
                request=request,
            )

        before = _version_state(version)
        version.status = VersionStatus.PUBLISHED
        version.published_at = now
        version.save(update_fields=["status", "published_at"])
        _record(
            "catalog.version.publish",
            OBJ_VERSION,
            version.pk,
            actor=actor,
            before=before,
            after=_version_state(version),
            request=request,
        )

        product_before = _product_state(product)
        if product.status != ProductStatus.ON_SALE:
            check_transition(
                PRODUCT_TRANSITIONS, product.status, ProductStatus.ON_SALE, what=f"product {product.code}"
            )
            product.status = ProductStatus.ON_SALE
        product.current_version = version
        product.premium_from = rating_port.cheapest_premium(version)
        product.save(update_fields=["status", "current_version", "premium_from", "updated_at"])
        _record(
            "catalog.product.publish",
            OBJ_PRODUCT,
            product.pk,
            actor=actor,
            before=product_before,
            after=_product_state(product),
            request=request,
        )
        bump_revision()
    return version


def take_off_sale(product: Product, *, actor: Any = None, request: Any = None) -> Product:
    """Stops selling a product (停售); its current version stays published for existing policies."""
    return _move_product(product, ProductStatus.OFF_SALE, "catalog.product.off_sale", actor, request)


def put_on_sale(product: Product, *, actor: Any = None, request: Any = None) -> Product:
    """Resumes selling an off-sale product whose current version is published."""
    return _move_product(product, ProductStatus.ON_SALE, "catalog.product.on_sale", actor, request)


def _move_product(product: Product, target: str, action: str, actor: Any, request: Any) -> Product:
    """The one path of a product's status change: row lock, transition guard, audit, revision."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        check_transition(PRODUCT_TRANSITIONS, product.status, target, what=f"product {product.code}")
        if target == ProductStatus.ON_SALE and product.current_version_id is None:
            raise ValidationFailed(
                f"product {product.code} has no published version",
                code="no_published_version",
                errors=[FieldError("current_version", "required", "publish a version first")],
            )
        before = _product_state(product)
        product.status = target
        product.save(update_fields=["status", "updated_at"])
        _record(
            action,
            OBJ_PRODUCT,
            product.pk,
            actor=actor,
            before=before,
            after=_product_state(product),
            request=request,
        )
        bump_revision()
    return product


def _copy_content(source: ProductVersion, target: ProductVersion) -> None:
    plans = list(source.plans.prefetch_related("coverages"))
    new_plans = Plan.objects.bulk_create(
        [
            Plan(
                version=target,
                code=p.code,
                name=p.name,
                sort_order=p.sort_order,
                min_sum_insured=p.min_sum_insured,
                max_sum_insured=p.max_sum_insured,
                sum_insured_step=p.sum_insured_step,
                is_recommended=p.is_recommended,
            )
            for p in plans
        ]
    )
    coverages: list[Coverage] = []
    for old_plan, new_plan in zip(plans, new_plans, strict=True):
        for c in old_plan.coverages.all():
            coverages.append(
                Coverage(
                    plan=new_plan,
                    code=c.code,
                    name=c.name,
                    description=c.description,
                    sort_order=c.sort_order,
                    is_optional=c.is_optional,
                    sum_insured=c.sum_insured,
                    deductible=c.deductible,
                    reimbursement_ratio=c.reimbursement_ratio,
                    waiting_period_days=c.waiting_period_days,
                    per_claim_limit=c.per_claim_limit,
                    annual_limit=c.annual_limit,
                )
            )
    Coverage.objects.bulk_create(coverages)
    Document.objects.bulk_create(
        [
            Document(
                version=target,
                kind=d.kind,
                title=d.title,
                body=d.body,
                key_clauses=d.key_clauses,
                min_read_seconds=d.min_read_seconds,
                sort_order=d.sort_order,
                content_sha256=document_sha256(d.title, d.body, d.key_clauses),
            )
            for d in source.documents.all()
        ]
    )


def new_version(product: Product, *, actor: Any = None, request: Any = None) -> ProductVersion:
    """A new draft, numbered one higher, copying the current (or latest) version with its plans,
    coverages and documents. Refuses with `DraftExists` when the product already has a draft."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        versions = ProductVersion.objects.filter(product=product)
        draft = versions.filter(status=VersionStatus.DRAFT).first()
        if draft is not None:
            raise DraftExists(
                f"{product.code} already has draft v{draft.number}; edit it instead",
                errors=[FieldError("version", "draft_exists", f"draft v{draft.number} exists")],
            )
        source = product.current_version or versions.order_by("-number").first()
        if source is None:
            raise NotFound(f"product {product.code} has no version to copy", code="no_version")
        top = versions.order_by("-number").values_list("number", flat=True).first() or 0
        target = ProductVersion.objects.create(
            product=product,
            number=top + 1,
            status=VersionStatus.DRAFT,
            **{name: getattr(source, name) for name in ProductVersion.CONTENT_FIELDS},
        )
        _copy_content(source, target)
        _record(
            "catalog.version.create",
            OBJ_VERSION,
            target.pk,
            actor=actor,
            before=None,
            after={**_version_state(target), "copied_from": source.number},
            request=request,
        )
        bump_revision()
    return target


def draft_for_edit(product: Product, *, actor: Any = None, request: Any = None) -> ProductVersion:
    """The product's open draft, or a new one copied from the version on sale."""
    draft = product.versions.filter(status=VersionStatus.DRAFT).first()
    if draft is not None:
        return draft
    return new_version(product, actor=actor, request=request)


def update_draft(
    version: ProductVersion, *, actor: Any = None, request: Any = None, **changes: Any
) -> ProductVersion:
    """Changes fields of a draft version (`EDITABLE_VERSION_FIELDS`).

    A published or retired version raises `VersionFrozen`."""
    unknown = sorted(set(changes) - EDITABLE_VERSION_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"not editable: {', '.join(unknown)}",
            code="not_editable",
            errors=[
                FieldError(name, "not_editable", f"{name} is not an editable version field")
                for name in unknown
            ],
        )
    if "cooling_off_days" in changes and (
        not isinstance(changes["cooling_off_days"], int) or changes["cooling_off_days"] < 0
    ):
        raise ValidationFailed(
            "cooling_off_days must be a whole number of days ≥ 0",
            errors=[FieldError("cooling_off_days", "min_value", "must be a whole number ≥ 0")],
        )
    with transaction.atomic():
        _product, version = _lock_version(version)
        _refuse_frozen(version)
        before = {name: getattr(version, name) for name in changes}
        for name, value in changes.items():
            setattr(version, name, value)
        version.save(update_fields=sorted(changes))
        _record(
            "catalog.version.update",
            OBJ_VERSION,
            version.pk,
            actor=actor,
            before=before,
            after=dict(changes),
            request=request,
        )
        bump_revision()
    return version


def save_document(
    version: ProductVersion,
    *,
    kind: str,
    title: str,
    body: str,
    key_clauses: Sequence[Mapping[str, Any]] = (),
    min_read_seconds: int = 10,
    actor: Any = None,
    request: Any = None,
) -> Document:
    """Creates or replaces the document of `kind` on a draft version; its content hash is recomputed."""
    if kind not in DocumentKind.values:
        raise ValidationFailed(
            f"unknown document kind '{kind}'",
            errors=[FieldError("kind", "choice", f"'{kind}' is not a document kind")],
        )
    with transaction.atomic():
        _product, version = _lock_version(version)
        _refuse_frozen(version)
        clauses = [dict(c) for c in key_clauses]
        doc = Document.objects.filter(version=version, kind=kind).first()
        before = {"content_sha256": doc.content_sha256} if doc else None
        if doc is None:
            doc = Document(version=version, kind=kind, sort_order=version.documents.count())
        doc.title = title
        doc.body = body
        doc.key_clauses = clauses
        doc.min_read_seconds = min_read_seconds
        doc.content_sha256 = document_sha256(title, body, clauses)
        doc.save()
        _record(
            "catalog.document.save",
            OBJ_DOCUMENT,
            doc.pk,
            actor=actor,
            before=before,
            after={"kind": kind, "content_sha256": doc.content_sha256},
            request=request,
        )
        bump_revision()
    return doc


def import_product(data: dict[str, Any], *, actor: Any = None, request: Any = None) -> ProductVersion:
    """Writes a document as a draft version and returns it; all or nothing.

    A new product gets version 1. An existing product gets its open draft replaced, or, when its
    latest version is published or retired, a new draft numbered one higher. Errors are collected
    and raised together as `ImportRejected`, each naming its JSON path and rule.
    """
    errors = io.import_errors(data)
    if errors:
        raise ImportRejected(f"the product document has {len(errors)} error(s)", errors=errors)
    with transaction.atomic():
        return save_draft_from_document(data, actor=actor, request=request)


def save_draft_from_document(
    data: Mapping[str, Any], *, actor: Any = None, request: Any = None
) -> ProductVersion:
    """Writes a validated product document (see `huibao.catalog.io`) as a draft version.

    Call `import_product`, which validates first; this function assumes a valid document and
    must run inside its transaction.
    """
    p = data["product"]
    insurer = Insurer.objects.get(code=p["insurer"])
    product = Product.objects.select_for_update().filter(code=p["code"]).first()
    created = product is None
    if product is None:
        product = Product.objects.create(code=p["code"], insurer=insurer, name=p["name"], line=p["line"])
    elif product.name != p["name"]:
        product.name = p["name"]
        product.save(update_fields=["name", "updated_at"])
    product.crowds.set(Crowd.objects.filter(code__in=p.get("crowds", [])))
    product.scenarios.set(Scenario.objects.filter(code__in=p.get("scenarios", [])))
    if created:
        _record(
            "catalog.product.create",
            OBJ_PRODUCT,
            product.pk,
            actor=actor,
            before=None,
            after={"code": product.code, "name": product.name, "line": product.line},
            request=request,
        )

    fields = io.version_kwargs(data["version"])
    latest = ProductVersion.objects.filter(product=product).order_by("-number").first()
    if latest is not None and latest.status == VersionStatus.DRAFT:
        version = latest
        for name, value in fields.items():
            setattr(version, name, value)
        version.save()
        Plan.objects.filter(version=version).delete()
        Document.objects.filter(version=version).delete()
        action = "catalog.version.replace"
    else:
        number = latest.number + 1 if latest is not None else 1
        version = ProductVersion.objects.create(
            product=product, number=number, status=VersionStatus.DRAFT, **fields
        )
        action = "catalog.version.create"
    write_content(version, data)
    _record(
        action,
        OBJ_VERSION,
        version.pk,
        actor=actor,
        before=None,
        after={**_version_state(version), "source": "import"},
        request=request,
    )
    bump_revision()
    return version


def write_content(version: ProductVersion, data: Mapping[str, Any]) -> None:
    """Creates the plans, coverages and documents of a document on an empty draft version."""
    plans = Plan.objects.bulk_create(
        [Plan(version=version, **io.plan_kwargs(p, i)) for i, p in enumerate(data["plans"])]
    )
    Coverage.objects.bulk_create(
        [
            Coverage(plan=plan, **io.coverage_kwargs(c, j))
            for plan, p in zip(plans, data["plans"], strict=True)
            for j, c in enumerate(p["coverages"])
        ]
    )
    Document.objects.bulk_create(
        [Document(version=version, **io.document_kwargs(d, i)) for i, d in enumerate(data["documents"])]
    )


def premium_from_of(version: ProductVersion) -> Decimal | None:
    """The "from ¥x" price of a version (cheapest plan, youngest eligible insured)."""
    return rating_port.cheapest_premium(version)
