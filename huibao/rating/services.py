"""Rating use-cases: compiled products (cached), quotes created and replayed.

Compiled specs of frozen (published or retired) versions never change, so they are cached per
process by version id; drafts are compiled on every call. Pricing a quote costs one indexed read
(product code → current version) and, when persisted, one insert.
"""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, connections, router
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from huibao.catalog.models import Plan, Product, ProductStatus, ProductVersion, VersionStatus
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.distribution import selectors as distribution_selectors
from huibao.rating import rules
from huibao.rating.errors import MissingFactor, QuoteRejected
from huibao.rating.models import Quote, new_quote_number
from huibao.rating.rules import PlanTerms, QuoteResult, RatingProduct

_cache: dict[int, RatingProduct] = {}
_cache_lock = threading.Lock()


def build_rating_product(version: ProductVersion, plans: list[Plan] | None = None) -> RatingProduct:
    """Compiles a version's spec with its plans; raises `SpecError` if the spec is invalid."""
    rows = plans if plans is not None else list(version.plans.all())
    return rules.make_rating_product(
        version_id=version.pk,
        version_number=version.number,
        product_code=version.product.code,
        pricing=version.pricing,
        eligibility=version.eligibility,
        term_options=version.term_options or [],
        payment_modes=version.payment_modes or [],
        plans=[
            PlanTerms(
                p.code, p.name, p.min_sum_insured, p.max_sum_insured, p.sum_insured_step or Decimal(0), p.pk
            )
            for p in sorted(rows, key=lambda p: (p.sort_order, p.code))
        ],
    )


def get_rating_product(version_id: int) -> RatingProduct:
    """The compiled product of a version; cached for frozen versions. Raises NotFound."""
    cached = _cache.get(version_id)
    if cached is not None:
        return cached
    version = (
        ProductVersion.objects.select_related("product")
        .prefetch_related("plans")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFound(f"产品版本 {version_id} 不存在")
    product = build_rating_product(version)
    if version.status != VersionStatus.DRAFT:
        with _cache_lock:
            _cache[version_id] = product
    return product


def clear_cache() -> None:
    """For tests: forget compiled products."""
    with _cache_lock:
        _cache.clear()


def current_version_id(product_code: str) -> int:
    """The published version on sale for a product code: one read on the unique code index.
    Hand-written SQL because it runs on every quote and the ORM's query compilation costs more
    than the query itself. Raises NotFound."""
    with connection.cursor() as cursor:
        cursor.execute(_CURRENT_VERSION_SQL(), [product_code, ProductStatus.ON_SALE])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(
            f"产品“{product_code}”不存在或已停售",
            errors=[FieldError("product_code", "not_on_sale", f"产品“{product_code}”不存在或已停售")],
        )
    return int(row[0])


@functools.cache
def _CURRENT_VERSION_SQL() -> str:
    qn = connection.ops.quote_name
    # Only quoted identifiers from our own model are interpolated; values are parameters.
    table = qn(Product._meta.db_table)
    return (
        f"SELECT {qn('current_version_id')} FROM {table} "  # noqa: S608
        f"WHERE {qn('code')} = %s AND {qn('status')} = %s AND {qn('current_version_id')} IS NOT NULL"
    )


def sellable_version_id(product_code: str) -> int:
    """`current_version_id`, and the product may be sold today (an active agreement of its
    insurer covers it: `distribution.selectors`) — still one read: the coverage is a column of
    the same query. Raises NotFound, or ValidationFailed naming `product_code` and why."""
    coverage, params = distribution_selectors.coverage_sql("p")
    with connection.cursor() as cursor:
        cursor.execute(_SELLABLE_VERSION_SQL(coverage), [*params, product_code, ProductStatus.ON_SALE])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(
            f"产品“{product_code}”不存在或已停售",
            errors=[FieldError("product_code", "not_on_sale", f"产品“{product_code}”不存在或已停售")],
        )
    if not row[1]:
        product = Product.objects.select_related("insurer").get(code=product_code)
        refusal = distribution_selectors.sellable(product) or FieldError(
            "product_code", "not_sellable", f"“{product.name}”暂不可售"
        )
        raise ValidationFailed(refusal.message, code="not_sellable", errors=[refusal])
    return int(row[0])


@functools.cache
def _SELLABLE_VERSION_SQL(coverage: str) -> str:
    qn = connection.ops.quote_name
    # Only quoted identifiers and the distribution's own fragment are interpolated; values are
    # parameters.
    table = qn(Product._meta.db_table)
    return (
        f"SELECT p.{qn('current_version_id')}, CASE WHEN {coverage} THEN 1 ELSE 0 END FROM {table} p "  # noqa: S608
        f"WHERE p.{qn('code')} = %s AND p.{qn('status')} = %s AND p.{qn('current_version_id')} IS NOT NULL"
    )


def create_quote(
    *,
    product_code: str,
    plan_code: str,
    inputs: dict[str, Any],
    user: Any = None,
    channel: str = "web",
    persist: bool = True,
    seller: Any = None,
) -> Quote:
    """Prices the product's current version and records the quote (unless `persist` is False).
    Raises NotFound (no such product on sale), ValidationFailed (the product may not be sold:
    no active agreement covers it, or `seller`'s licence does not cover its line) or
    QuoteRejected (every invalid input)."""
    version_id = sellable_version_id(product_code)
    if seller is None and getattr(user, "is_authenticated", False) and not getattr(user, "is_customer", True):
        # Staff quoting: an agent's own licence must cover the line (customers cost no read).
        seller = distribution_selectors.seller_for_user(user)
    if seller is not None:
        refusal = distribution_selectors.sellable(
            Product.objects.select_related("insurer").get(code=product_code), seller=seller
        )
        if refusal is not None:
            raise ValidationFailed(refusal.message, code="not_sellable", errors=[refusal])
    product = get_rating_product(version_id)
    result = rules.price(product, plan_code, inputs)
    plan = product.plans_by_code[plan_code]
    quote = Quote(
        product_version_id=version_id,
        plan_id=plan.plan_id or 0,
        inputs=result.inputs,
        steps=result.steps_as_dicts(),
        premium=result.premium,
        engine_version=result.engine_version,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        channel=channel,
    )
    if persist:
        save_new_quote(quote)
    return quote


NUMBER_ATTEMPTS = 5


def save_new_quote(quote: Quote) -> None:
    """Inserts a new quote with a fresh short number; a clash of numbers (about 1 in 10⁹ per day
    and pair) takes another one. Outside a transaction (a quote page, the API) an insert is all it
    costs; inside one (the re-pricing of an application's step), it is one
    `INSERT … ON CONFLICT DO NOTHING` — a clash inserts nothing and aborts nothing, so no savepoint
    is needed around it. Any other refusal is raised after the last attempt."""
    for attempt in range(NUMBER_ATTEMPTS):
        quote.number = new_quote_number()
        if connection.in_atomic_block:
            if _insert_unless_taken(quote):
                return
            continue
        try:
            quote.save(force_insert=True)
            return
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise IntegrityError(f"rating_quote: no free number after {NUMBER_ATTEMPTS} attempts")


def _insert_unless_taken(quote: Quote) -> bool:
    """One `INSERT … ON CONFLICT DO NOTHING` of `quote` (its primary key is made here, a UUID):
    whether the row went in. The fields' own `pre_save` (`created_at`) and conversions run as for
    `save()`; the quote has no save signals' receivers."""
    db = router.db_for_write(Quote)
    query = InsertQuery(Quote, on_conflict=OnConflict.IGNORE)
    query.insert_values(list(Quote._meta.local_concrete_fields), [quote])
    inserted = 0
    with connections[db].cursor() as cursor:
        for statement, params in query.get_compiler(using=db).as_sql():
            cursor.execute(statement, params)
            inserted += max(cursor.rowcount, 0)
    if inserted:
        quote._state.adding = False
        quote._state.db = db
    return inserted == 1


def _plan_code(product: RatingProduct, quote: Quote) -> str:
    plan_code = next((p.code for p in product.plans if p.plan_id == quote.plan_id), None)
    if plan_code is None:
        raise NotFound(f"报价 {quote.pk} 的方案已不在产品版本中")
    return plan_code


def explain_quote(quote: Quote) -> list[rules.ExplainedStep]:
    """The quote's calculation in the customer's words (`rules.explain`); staff see the trace."""
    product = get_rating_product(quote.product_version_id)
    return rules.explain(product, _plan_code(product, quote), quote.inputs, quote.steps or [])


def replay_quote(quote: Quote) -> QuoteResult:
    """Re-prices a stored quote from its version and recorded inputs (for audits and disputes)."""
    product = get_rating_product(quote.product_version_id)
    return rules.price(product, _plan_code(product, quote), quote.inputs)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What a quote assumed about the insured that is known for certain once they are named."""

    birth_date: datetime.date
    sex: str
    occupation_class: int | None


def reprice_for_person(
    origin: Quote,
    person: PersonFacts,
    *,
    candidates: Sequence[Quote] = (),
    user: Any = None,
    channel: str = "application",
) -> Quote:
    """Prices `origin`'s product version and plan again (the one the customer was shown) on the
    person's real birth date, sex and occupation class, and records that quote — unless one of
    `candidates` or `origin` (in that order) already has the same inputs and premium, which is
    then returned. Raises `ValidationFailed` (fields `inputs.…`) when the person cannot be
    priced."""
    changes: dict[str, object] = {"birth_date": person.birth_date.isoformat()}
    if "sex" in origin.inputs or person.sex:
        changes["sex"] = person.sex
    if person.occupation_class is not None:
        changes["occupation_class"] = person.occupation_class
    return reprice(
        origin, changes=changes, drop=("age", "start_date"), candidates=candidates, user=user, channel=channel
    )


def reprice(
    origin: Quote,
    *,
    changes: Mapping[str, object],
    plan_code: str | None = None,
    drop: Sequence[str] = (),
    candidates: Sequence[Quote] = (),
    user: Any = None,
    channel: str = "servicing",
) -> Quote:
    """The one re-pricing path: `origin`'s product version (never the one on sale now) on its
    recorded inputs less `drop`, with `changes`, for its plan or `plan_code` (another plan of
    that version). Records the quote unless one of `candidates` or `origin` already has the
    same plan, inputs and premium (returned instead). Raises `ValidationFailed` (fields
    `inputs.…`, `plan_code`) when it cannot be priced."""
    inputs = dict(origin.inputs)
    for key in (*drop, *changes):
        inputs.pop(key, None)
    inputs.update(changes)
    product = get_rating_product(origin.product_version_id)
    code = plan_code or _plan_code(product, origin)
    result = rules.price(product, code, inputs)
    plan = product.plans_by_code[code]
    plan_id = plan.plan_id or origin.plan_id
    for candidate in (*candidates, origin):
        if (
            candidate.plan_id == plan_id
            and candidate.premium == result.premium
            and candidate.inputs == result.inputs
        ):
            return candidate
    quote = Quote(
        product_version_id=origin.product_version_id,
        plan_id=plan_id,
        inputs=result.inputs,
        steps=result.steps_as_dicts(),
        premium=result.premium,
        engine_version=result.engine_version,
        user=user if getattr(user, "is_authenticated", False) else None,
        channel=channel,
    )
    save_new_quote(quote)
    return quote


def year_premiums(quote: Quote, *, years: int, start: datetime.date) -> list[Decimal]:
    """The premium of each policy year of the quote's cover over a premium term of `years`
    starting on `start`, as its product version prices it (`rules.premiums_by_year`: level, or
    stepped at the insured's attained age). Raises `ValidationFailed` when a year cannot be
    priced."""
    product = get_rating_product(quote.product_version_id)
    try:
        return rules.premiums_by_year(
            product, _plan_code(product, quote), quote.inputs, years=years, start=start
        )
    except MissingFactor as exc:
        raise QuoteRejected(
            [FieldError("inputs.age", "missing_factor", f"费率表缺少以后年度的因子：{exc}")]
        ) from exc


def has_stepped_premiums(version_id: int) -> bool:
    """Whether the version's premium steps up by policy year (`pricing.premium_steps`)."""
    return get_rating_product(version_id).spec.premium_steps == rules.ATTAINED_AGE
