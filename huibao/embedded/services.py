"""Embedded sale use-cases: issue a channel's sales in one call, submit a batch for the
background, process a batch's chunks exactly once, resume stale batches.

`issue(channel, sales)` judges each sale on its own (its shape; the product on sale, allowing
embedded sale and sellable by the channel; the plan; the documents shown are the current
published ones; the consent time; the scenario fields; the price by the rating engine and the
product's maximum) and issues the accepted ones together (`policy.bulk.issue_bulk`), in a
number of statements that does not grow with the number of sales: one read per table, one
number reservation per insurer (outside a caller's transaction, in a short transaction of its
own before the issuing one: `prepare`, then `issue_prepared`; numbers unique, with gaps),
one insert per table, one audit entry for the call's evidence root. A repeated order
reference answers the policy it already has (the order references of the call are locked
first, so concurrent calls for one order issue one policy; the unique (channel, order
reference) of the evidence is the last guard).

The premium is not paid per policy: the channel collected it at its checkout, and the call's
`ChannelPremiumBatch` says what it owes; `embedded_issued` announces it (finance books the
receivable), with the issued policies (the claim app indexes event-triggered ones).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from huibao.catalog import rules as catalog_rules
from huibao.catalog.documents import coverages_of_plans, documents_of_versions, is_frozen
from huibao.catalog.models import (
    CatalogRevision,
    Insurer,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from huibao.core import audit, evidence
from huibao.core.bulkcopy import IdPool, copy_create, copy_rows
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.states import check_transition
from huibao.core.taskqueue import enqueue_all
from huibao.distribution import selectors as distribution_selectors
from huibao.distribution.models import AgreementRevision, SalesUnit, SalesUnitKind
from huibao.embedded import rules
from huibao.embedded.models import (
    ChannelPremiumBatch,
    EmbeddedBatch,
    EmbeddedBatchChunk,
    EmbeddedSaleEvidence,
)
from huibao.embedded.rules import EmbeddedOutcome, EmbeddedSale, ShownDocument
from huibao.embedded.states import BATCH_TRANSITIONS, BatchStatus
from huibao.policy.bulk import issue_bulk
from huibao.policy.issuance import HolderData, IssuanceRequest, ItemToIssue, SubjectValue
from huibao.policy.models import Policy
from huibao.policy.services import IssuedPolicy, NumberBlock, reserve_numbers
from huibao.policy.states import BeneficiaryMode, Channel
from huibao.rating import rules as rating_rules
from huibao.rating import services as rating_services
from huibao.rating.errors import QuoteRejected, RatingError

logger = logging.getLogger(__name__)

SYSTEM = "system"
OBJ_TYPE = "embedded_batch"
# The kind of the evidence roots of embedded sales (`core.evidence`): leaves are policy numbers.
EVIDENCE_KIND = "embedded_sale"
CHANNEL_KINDS = (SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)
# A processing batch whose heartbeat is older than this has lost its worker (`resume_stale_batches`).
STALE_AFTER = datetime.timedelta(minutes=5)


# The columns of an evidence row as `_issue_accepted` builds it (then its premium batch).
EVIDENCE_FIELDS = (
    "policy_id",
    "channel_id",
    "order_ref",
    "batch_ref",
    "leaf_index",
    "canonical",
    "digest",
    "created_at",
)


# --- hooks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmbeddedIssued:
    """The policies one call (or one chunk of a batch) issued, and what the channel owes for
    them: `premium_total` over `policy_count` policies, in `batch_ref`."""

    channel: SalesUnit
    batch_ref: str
    premium_batch_id: int
    policy_count: int
    premium_total: Decimal
    evidence_root: str
    issued: tuple[IssuedPolicy, ...]


@dataclass(frozen=True, slots=True)
class EmbeddedBatchDone:
    """An asynchronous batch finished (done or failed), with its counts."""

    batch_id: uuid.UUID
    channel_id: int
    status: str
    total: int
    accepted: int
    refused: int
    premium_total: Decimal


# Announced inside the issuing transaction (finance books the channel's receivable; the claim
# app indexes flight-delay and return-shipping policies, as it does for `policies_issued`).
embedded_issued: Hook[EmbeddedIssued, None] = Hook("embedded.embedded_issued")
# Announced inside the transaction that finishes a batch (the partner webhook is wired there).
embedded_batch_done: Hook[EmbeddedBatchDone, None] = Hook("embedded.embedded_batch_done")


# --- the channel ---------------------------------------------------------------------------------


def check_channel(channel: SalesUnit) -> None:
    """The seller is an active channel (or sub-channel); else the whole call is refused."""
    if channel.kind not in CHANNEL_KINDS or not channel.is_active:
        raise ValidationFailed(
            "只有有效的合作渠道可嵌入式投保",
            code="not_a_channel",
            errors=[FieldError("channel", "not_a_channel", "只有有效的合作渠道可嵌入式投保")],
        )


# --- what a call reads once ----------------------------------------------------------------------


@dataclass(slots=True)
class _Offer:
    """A product the call sells: its current version (frozen), plans, documents, compiled
    spec and embedded-sale terms, or why none of its sales can be accepted."""

    product: Product
    version: ProductVersion | None
    plans: dict[str, Plan]
    documents: dict[int, str]
    rating: rating_rules.RatingProduct | None
    terms: catalog_rules.EmbeddedSaleTerms | None
    subject: tuple[rules.SubjectField, ...]
    refusal: FieldError | None


@dataclass(frozen=True, slots=True)
class _Listing:
    """What a call reads of one product, kept per process while the catalog and agreement
    revisions stay where they were (`_listings`): the product with its insurer and current
    version (frozen), the plans, the documents, the embedded-sale terms, whether the product
    itself refuses embedded sale (`refusal`: not on sale, not a scenario product, no single
    premium), and its insurer's agreements. The channel's licence and the day's agreement check
    are judged per call (`_offer`). Shared between calls and threads: read it, never change it."""

    product: Product
    version: ProductVersion | None
    plans: dict[str, Plan]
    documents: dict[int, str]
    terms: catalog_rules.EmbeddedSaleTerms | None
    subject: tuple[rules.SubjectField, ...]
    refusal: FieldError | None
    agreements: tuple[distribution_selectors.AgreementView, ...]
    cacheable: bool


# The listings of the products sold so far by this process, under the key they were read at:
# (catalog revision, agreement revision, operator). Each call reads the two revisions first (one
# statement); when either moved, everything is read again. Replaced whole, never changed in place
# by two threads at once.
_listings: tuple[tuple[Any, ...] | None, dict[str, _Listing]] = (None, {})
_listings_lock = threading.Lock()


def clear_offer_cache() -> None:
    """For tests: forget the listings (tests roll their rows and revisions back)."""
    global _listings
    with _listings_lock:
        _listings = (None, {})


def _revisions() -> tuple[int, int]:
    """The catalog and agreement revision counters, in one statement."""
    catalog = connection.ops.quote_name(CatalogRevision._meta.db_table)
    agreements = connection.ops.quote_name(AgreementRevision._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT counter FROM {catalog} WHERE id = 1), "  # noqa: S608
            f"(SELECT counter FROM {agreements} WHERE id = 1)"
        )
        row = cursor.fetchone()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


def _read_listings(codes: set[str]) -> dict[str, _Listing]:
    """The listings of the products by code, read from the database (one read for products and
    versions, one for plans, one for the agreements of their insurers and their products;
    documents and coverages of frozen versions from the per-process caches)."""
    products = list(
        Product.objects.filter(code__in=sorted(codes)).select_related("insurer", "current_version")
    )
    versions = {p.current_version_id: p for p in products if p.current_version_id is not None}
    plans_by_version: dict[int, dict[str, Plan]] = {vid: {} for vid in versions}
    for plan in Plan.objects.filter(version_id__in=sorted(versions)):
        plans_by_version[plan.version_id][plan.code] = plan
    frozen = {
        vid: p.current_version is not None and is_frozen(p.current_version) for vid, p in versions.items()
    }
    documents: dict[int, dict[int, str]] = {vid: {} for vid in versions}
    for doc in documents_of_versions(frozen):
        documents[doc.version_id][doc.pk] = doc.content_sha256
    # Warm the coverages of every plan (policy rows read them per plan, from the cache).
    coverages_of_plans({plan.pk: frozen[vid] for vid, ps in plans_by_version.items() for plan in ps.values()})
    agency = distribution_selectors.operator()[0] == distribution_selectors.AGENCY_MODE
    refusals = {p.code: _product_refusal(p) for p in products}
    candidates = [p for p in products if refusals[p.code] is None]
    agreements = (
        distribution_selectors.insurer_agreements([p.insurer_id for p in candidates])
        if agency and candidates
        else {}
    )
    listings: dict[str, _Listing] = {}
    for product in products:
        version = product.current_version
        terms = None
        if version is not None:
            version.product = product  # policy rows read the product and its insurer from here
            for plan in plans_by_version.get(version.pk, {}).values():
                plan.version = version
            terms = catalog_rules.embedded_sale_terms(version.application_rules)
        listings[product.code] = _Listing(
            product=product,
            version=version,
            plans=plans_by_version.get(version.pk, {}) if version is not None else {},
            documents=documents.get(version.pk, {}) if version is not None else {},
            terms=terms,
            subject=rules.subject_fields(version.application_rules if version is not None else None),
            refusal=refusals[product.code],
            agreements=agreements.get(product.insurer_id, ()),
            cacheable=version is not None and frozen.get(version.pk, False),
        )
    return listings


def _product_refusal(product: Product) -> FieldError | None:
    """Why no sale of the product can be accepted whoever sells it, or None."""
    version = product.current_version
    if (
        version is None
        or product.status != ProductStatus.ON_SALE
        or version.status != VersionStatus.PUBLISHED
    ):
        return FieldError("product_code", "not_on_sale", f"产品“{product.code}”不存在或已停售")
    terms = catalog_rules.embedded_sale_terms(version.application_rules)
    if terms is None or (not catalog_rules.is_scenario_product(product.line, ()) and not _ride(product)):
        return FieldError("product_code", "embedded_not_allowed", f"产品“{product.code}”不支持嵌入式销售")
    if "single" not in (version.payment_modes or []):
        return FieldError(
            "product_code", "embedded_not_allowed", f"产品“{product.code}”不支持趸交，不能嵌入式销售"
        )
    return None


def _listings_of(codes: set[str]) -> dict[str, _Listing]:
    """The listings of the call's products: from the per-process cache when the catalog and
    agreement revisions (read first, one statement) are the ones it was read at, else read
    (and kept when the product's version is frozen). A product not found is read again on every
    call (never remembered as absent)."""
    global _listings
    key = (*_revisions(), distribution_selectors.operator())
    cached_key, cached = _listings
    if cached_key != key:
        cached = {}
    found = {code: cached[code] for code in codes if code in cached}
    missing = codes - set(found)
    if missing:
        read = _read_listings(missing)
        found.update(read)
        keep = {code: listing for code, listing in read.items() if listing.cacheable}
        if keep or cached_key != key:
            with _listings_lock:
                current_key, current = _listings
                merged = dict(current) if current_key == key else {}
                merged.update(keep)
                _listings = (key, merged)
    return found


def _offers(codes: set[str], channel: SalesUnit) -> dict[str, _Offer]:
    """The products of the call by code, judged for this channel today (`_listings_of`: one
    statement when they are cached)."""
    today = timezone.localdate()
    offers: dict[str, _Offer] = {}
    for code, listing in _listings_of(codes).items():
        product, version = listing.product, listing.version
        refusal = listing.refusal
        rating = None
        if refusal is None:
            refusal = distribution_selectors.sellable(
                product, on=today, seller=channel, agreements=listing.agreements
            )
            if refusal is not None and refusal.field != "product_code":
                refusal = FieldError("product_code", refusal.code, refusal.message)
        if refusal is None and version is not None:
            try:
                rating = rating_services.get_rating_product(version.pk)
            except Exception:
                logger.exception("the pricing spec of %s does not compile", product.code)
                refusal = FieldError("product_code", "not_priceable", f"产品“{product.code}”暂无法报价")
        offers[code] = _Offer(
            product=product,
            version=version,
            plans=listing.plans,
            documents=listing.documents,
            rating=rating,
            terms=listing.terms,
            subject=listing.subject,
            refusal=refusal,
        )
    return offers


def _ride(product: Product) -> bool:
    """A ride-sharing accident product (read only for accident products that allow embedded sale)."""
    if product.line != "accident":
        return False
    return catalog_rules.is_scenario_product(product.line, product.scenarios.values_list("code", flat=True))


# --- judging one sale ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Accepted:
    index: int
    sale: EmbeddedSale
    offer: _Offer
    request: IssuanceRequest
    premium: Decimal
    inputs: dict[str, Any]
    subject: dict[str, str]


def _judge(
    index: int, sale: EmbeddedSale, offer: _Offer | None, channel: SalesUnit, now: datetime.datetime
) -> _Accepted | EmbeddedOutcome:
    if offer is None:
        return rules.refused(
            index,
            sale,
            [FieldError("product_code", "not_on_sale", f"产品“{sale.product_code}”不存在或已停售")],
        )
    if offer.refusal is not None:
        return rules.refused(index, sale, [offer.refusal])
    assert offer.version is not None and offer.terms is not None and offer.rating is not None
    errors: list[FieldError] = []
    plan = offer.plans.get(sale.plan_code)
    if plan is None:
        options = "、".join(sorted(offer.plans))
        errors.append(
            FieldError("plan_code", "unknown_plan", f"方案“{sale.plan_code}”不存在，可选方案：{options}")
        )
    errors.extend(rules.document_errors(sale.documents, offer.documents))
    errors.extend(rules.consent_errors(sale.consent_at, now, offer.terms.consent_max_age_minutes))
    local_now = timezone.localtime(now)
    inputs, subject, field_errors = rules.split_scenario(
        sale.scenario, offer.subject, (i.name for i in offer.rating.spec.inputs)
    )
    errors.extend(field_errors)
    cover_date, date_errors = rules.cover_date_of(sale.scenario, local_now.date())
    errors.extend(date_errors)
    premium: Decimal | None = None
    result = None
    if plan is not None:
        try:
            result = rating_rules.price(offer.rating, sale.plan_code, inputs, on=local_now.date())
        except QuoteRejected as exc:
            errors.extend(
                FieldError(
                    e.field.replace("inputs.", "scenario.", 1) if e.field.startswith("inputs.") else e.field,
                    e.code,
                    e.message,
                )
                for e in exc.errors
            )
        except RatingError as exc:
            errors.append(FieldError("scenario", exc.code, exc.message))
        else:
            premium = result.premium
            errors.extend(rules.premium_errors(premium, offer.terms.max_premium))
    if errors or plan is None or premium is None or result is None:
        return rules.refused(index, sale, errors)
    version = offer.version
    labels = {f.code: f.label for f in offer.subject}
    si = result.inputs.get("sum_insured")
    item = ItemToIssue(
        item_id=None,
        position=0,
        product_version=version,
        plan=plan,
        sum_insured=Decimal(str(si)) if si is not None else plan.max_sum_insured,
        base_premium=premium,
        premium=premium,
        loading_percent=Decimal(0),
        payment_mode="single",
        term=None,
        effective_at=rules.cover_start(version.application_rules, local_now, cover_date),
        subject=tuple(SubjectValue(code, labels.get(code, code), value) for code, value in subject.items()),
    )
    holder = HolderData(
        name=sale.insured_name.strip(),
        id_number="",
        id_hash=sale.identity_ref,
        birth_date=None,
        sex="",
    )
    request = IssuanceRequest(
        application_id=None,
        application_public_id=None,
        application_number="",
        channel=Channel.PARTNER,
        customer_id=None,
        holder=holder,
        beneficiary_mode=BeneficiaryMode.LEGAL,
        items=(item,),
        paid_at=now,
        seller_id=channel.pk,
    )
    return _Accepted(
        index=index,
        sale=sale,
        offer=offer,
        request=request,
        premium=premium,
        inputs=dict(result.inputs),
        subject=subject,
    )


# --- issuing -------------------------------------------------------------------------------------


def _lock_orders(channel: SalesUnit, order_refs: Sequence[str]) -> None:
    """Takes a transaction lock per (channel, order reference), in key order (no deadlock
    between calls sharing orders), so that a concurrent call for one of these orders waits for
    this one and then finds its policy. PostgreSQL only: SQLite serialises writers anyway (the
    unique constraint of the evidence is the last guard everywhere)."""
    if connection.vendor != "postgresql" or not order_refs:
        return
    keys = sorted(
        {
            int.from_bytes(
                hashlib.sha256(f"embedded:{channel.pk}:{ref}".encode()).digest()[:8], "big", signed=True
            )
            for ref in order_refs
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS keys",
            [keys],
        )


@dataclass(frozen=True, slots=True)
class _Existing:
    """The policy an order reference already has (a replay answers it)."""

    order_ref: str
    number: str
    verification_code: str
    premium: Decimal


def _existing(channel: SalesUnit, order_refs: Sequence[str]) -> dict[str, _Existing]:
    """The policies the call's order references already have (one read, no model instances)."""
    if not order_refs:
        return {}
    refs = sorted(set(order_refs))
    if connection.vendor != "postgresql":
        rows = EmbeddedSaleEvidence.objects.filter(channel_id=channel.pk, order_ref__in=refs).values_list(
            "order_ref", "policy__number", "policy__verification_code", "policy__premium"
        )
        return {row[0]: _Existing(*row) for row in rows}
    # PostgreSQL: the same read as one plain statement (the references as one array parameter),
    # composed once instead of by the ORM on every call.
    with connection.cursor() as cursor:
        cursor.execute(_EXISTING_SQL, [channel.pk, refs])
        return {row[0]: _Existing(*row) for row in cursor.fetchall()}


_EXISTING_SQL = (
    f"SELECT e.order_ref, p.number, p.verification_code, p.premium "  # noqa: S608
    f"FROM {EmbeddedSaleEvidence._meta.db_table} e JOIN {Policy._meta.db_table} p ON p.id = e.policy_id "
    "WHERE e.channel_id = %s AND e.order_ref = ANY(%s)"
)


def _replayed(index: int, existing: _Existing) -> EmbeddedOutcome:
    return EmbeddedOutcome(
        index=index,
        order_ref=existing.order_ref,
        accepted=True,
        policy_number=existing.number,
        verification_code=existing.verification_code,
        premium=existing.premium,
        replayed=True,
    )


def new_batch_ref() -> str:
    return f"EMB{uuid.uuid4().hex[:24].upper()}"


def _check_call(channel: SalesUnit, sales: Sequence[EmbeddedSale]) -> None:
    check_channel(channel)
    if not sales:
        raise ValidationFailed(
            "请至少提交一笔销售", errors=[FieldError("sales", "required", "请至少提交一笔销售")]
        )
    if len(sales) > rules.MAX_SALES_PER_CALL:
        message = f"每次最多{rules.MAX_SALES_PER_CALL}笔，大批量请提交批量任务"
        raise ValidationFailed(message, errors=[FieldError("sales", "too_many", message)])


def issue(
    channel: SalesUnit,
    sales: Sequence[EmbeddedSale],
    *,
    now: datetime.datetime | None = None,
    embedded_batch: EmbeddedBatch | None = None,
) -> list[EmbeddedOutcome]:
    """One outcome per sale, in order: accepted (a new policy, or the one its order reference
    already has) or refused with its reasons. Raises ValidationFailed only for the call as a
    whole: not a channel, no sales, more than `MAX_SALES_PER_CALL`."""
    return issue_prepared(prepare(channel, sales, now=now), embedded_batch=embedded_batch)


@dataclass(slots=True)
class PreparedCall:
    """A call's sales judged and, when it was made outside a transaction, numbered
    (`prepare`); `issue_prepared` writes it."""

    channel: SalesUnit
    sales: Sequence[EmbeddedSale]
    now: datetime.datetime
    judged: _Judged


def prepare(
    channel: SalesUnit, sales: Sequence[EmbeddedSale], *, now: datetime.datetime | None = None
) -> PreparedCall:
    """The part of a call that runs before its transaction: the call checked (ValidationFailed
    as `issue`), each sale judged, and — outside any transaction — the accepted sales' numbers
    reserved in a short transaction of their own (`policy.services.reserve_numbers`), so the
    insurer's sequence row is not held until the issuing transaction commits: concurrent calls
    do not queue on it. Inside a transaction (a batch chunk; tests) the numbers are taken in it
    by `issue_prepared`, as before."""
    _check_call(channel, sales)
    now = now or timezone.now()
    judged = _judge_all(channel, sales, now=now)
    if not connection.in_atomic_block:
        judged.blocks = _reserve(judged.accepted, now=now)
    return PreparedCall(channel=channel, sales=sales, now=now, judged=judged)


def issue_prepared(
    prepared: PreparedCall, *, embedded_batch: EmbeddedBatch | None = None
) -> list[EmbeddedOutcome]:
    """Issues a prepared call in one transaction (orders locked, replays answered, the rest
    written): the outcomes, one per sale in order."""
    with transaction.atomic():
        return _write(
            prepared.channel,
            prepared.sales,
            prepared.judged,
            now=prepared.now,
            embedded_batch=embedded_batch,
        )[0]


@dataclass(slots=True)
class _Judged:
    """A call's sales judged (before the replay check): the refusals by index, the first index
    of each order reference, the accepted sales, and the numbers reserved for them (None: taken
    in the issuing transaction)."""

    outcomes: dict[int, EmbeddedOutcome]
    first_of: dict[str, int]
    accepted: list[_Accepted]
    blocks: dict[int, NumberBlock] | None = None


def _judge_all(channel: SalesUnit, sales: Sequence[EmbeddedSale], *, now: datetime.datetime) -> _Judged:
    outcomes: dict[int, EmbeddedOutcome] = {}
    first_of: dict[str, int] = {}  # order reference → the index of its first sale in the call
    candidates: list[tuple[int, EmbeddedSale]] = []
    for index, sale in enumerate(sales):
        problems = rules.shape_errors(sale)
        if problems:
            outcomes[index] = rules.refused(index, sale, problems)
        elif sale.order_ref in first_of:
            continue  # answered as its first occurrence, below
        else:
            first_of[sale.order_ref] = index
            candidates.append((index, sale))
    offers = _offers({s.product_code for _, s in candidates}, channel) if candidates else {}
    accepted: list[_Accepted] = []
    for index, sale in candidates:
        judged = _judge(index, sale, offers.get(sale.product_code), channel, now)
        if isinstance(judged, EmbeddedOutcome):
            outcomes[index] = judged
        else:
            accepted.append(judged)
    return _Judged(outcomes=outcomes, first_of=first_of, accepted=accepted)


def _reserve(accepted: Sequence[_Accepted], *, now: datetime.datetime) -> dict[int, NumberBlock]:
    """One block per insurer of the accepted sales, each in its own short transaction (insurer
    order). A sale that turns out to be a replay leaves its number unused (a gap)."""
    insurers: dict[int, Insurer] = {}
    counts: Counter[int] = Counter()
    for item in accepted:
        insurer = item.offer.product.insurer
        insurers[insurer.pk] = insurer
        counts[insurer.pk] += 1
    year = timezone.localtime(now).year
    return {pk: reserve_numbers(insurers[pk], year, counts[pk]) for pk in sorted(insurers)}


def _issue(
    channel: SalesUnit,
    sales: Sequence[EmbeddedSale],
    *,
    now: datetime.datetime,
    embedded_batch: EmbeddedBatch | None,
) -> tuple[list[EmbeddedOutcome], ChannelPremiumBatch | None]:
    """The outcomes, and the premium batch of the policies issued (None when none was), all in
    the caller's transaction."""
    return _write(channel, sales, _judge_all(channel, sales, now=now), now=now, embedded_batch=embedded_batch)


def _write(
    channel: SalesUnit,
    sales: Sequence[EmbeddedSale],
    judged: _Judged,
    *,
    now: datetime.datetime,
    embedded_batch: EmbeddedBatch | None,
) -> tuple[list[EmbeddedOutcome], ChannelPremiumBatch | None]:
    """Inside the issuing transaction: the call's orders locked, the ones that already have a
    policy answered with it (whatever the judging said: a replay answers what was issued), the
    others issued."""
    first_of = judged.first_of
    outcomes = dict(judged.outcomes)
    _lock_orders(channel, list(first_of))
    existing = _existing(channel, list(first_of))
    for ref, index in first_of.items():
        if ref in existing:
            outcomes[index] = _replayed(index, existing[ref])
    accepted = [a for a in judged.accepted if a.sale.order_ref not in existing]
    premium_batch: ChannelPremiumBatch | None = None
    if accepted:
        # The seal's audit entry goes in with the call's other rows (`audit.batched`: one
        # INSERT composed once, not the ORM's save).
        with audit.batched():
            issued, premium_batch = _issue_accepted(
                channel, accepted, now=now, embedded_batch=embedded_batch, blocks=judged.blocks
            )
        outcomes.update(issued)
    answers: list[EmbeddedOutcome] = []
    for index, sale in enumerate(sales):
        outcome = outcomes.get(index)
        if outcome is None:  # a repeated order reference in the same call
            first = outcomes[first_of[sale.order_ref]]
            outcome = EmbeddedOutcome(
                index=index,
                order_ref=first.order_ref,
                accepted=first.accepted,
                policy_number=first.policy_number,
                verification_code=first.verification_code,
                premium=first.premium,
                replayed=first.accepted,
                errors=first.errors,
            )
        answers.append(outcome)
    return answers, premium_batch


def _issue_accepted(
    channel: SalesUnit,
    accepted: list[_Accepted],
    *,
    now: datetime.datetime,
    embedded_batch: EmbeddedBatch | None,
    blocks: dict[int, NumberBlock] | None = None,
) -> tuple[dict[int, EmbeddedOutcome], ChannelPremiumBatch]:
    # The evidence rows' ids are reserved with the policies' (one statement for the four tables).
    ids = IdPool()
    ids.want(EmbeddedSaleEvidence, len(accepted))
    issued = issue_bulk([a.request for a in accepted], now=now, ids=ids, blocks=blocks)
    batch_ref = new_batch_ref()
    evidence_rows: list[tuple[Any, ...]] = []  # values of EVIDENCE_FIELDS (`copy_rows`)
    leaves: list[tuple[str, bytes]] = []
    for position, (item, done) in enumerate(zip(accepted, issued, strict=True)):
        policy = done.policy
        canonical = rules.canonical_json(
            rules.evidence_document(
                channel_code=channel.code,
                sale=item.sale,
                policy_number=policy.number,
                product_version=item.offer.version.number if item.offer.version else 0,
                premium=item.premium,
                inputs=item.inputs,
                subject=item.subject,
                issued_at=now,
            )
        )
        digest = rules.digest(canonical)
        leaves.append((policy.number, bytes.fromhex(digest)))
        evidence_rows.append(
            (policy.pk, channel.pk, item.sale.order_ref, batch_ref, position, canonical, digest, now)
        )
    total = rules.premium_total(a.premium for a in accepted)
    # The call's evidence under one Merkle root, sealed by ONE audit-chain entry (never one per
    # policy): any policy's evidence is proven against the chain by its leaf
    # (`core.evidence.prove(EVIDENCE_KIND, policy number)`).
    # `fresh`: the batch reference was drawn just now and the leaves are the numbers of the
    # policies this transaction has just written (unique): the seal's existence checks would only
    # read what cannot be there.
    sealed = evidence.seal(EVIDENCE_KIND, batch_ref, leaves, fresh=True)
    [premium_batch] = copy_create(
        ChannelPremiumBatch,
        [
            ChannelPremiumBatch(
                batch_ref=batch_ref,
                channel=channel,
                embedded_batch=embedded_batch,
                policy_count=len(accepted),
                premium_total=total,
                evidence_root=sealed.root,
                evidence_seal=sealed,
                created_at=now,
            )
        ],
    )
    copy_rows(
        EmbeddedSaleEvidence,
        (*EVIDENCE_FIELDS, "premium_batch_id"),
        [(*row, premium_batch.pk) for row in evidence_rows],
        pool=ids,
    )
    embedded_issued.announce(
        EmbeddedIssued(
            channel=channel,
            batch_ref=batch_ref,
            premium_batch_id=premium_batch.pk,
            policy_count=len(accepted),
            premium_total=total,
            evidence_root=sealed.root,
            issued=tuple(issued),
        )
    )
    outcomes = {
        a.index: EmbeddedOutcome(
            index=a.index,
            order_ref=a.sale.order_ref,
            accepted=True,
            policy_number=done.policy.number,
            verification_code=done.policy.verification_code,
            premium=a.premium,
        )
        for a, done in zip(accepted, issued, strict=True)
    }
    return outcomes, premium_batch


# --- asynchronous batches ------------------------------------------------------------------------


def sale_to_dict(sale: EmbeddedSale) -> dict[str, Any]:
    return {
        "product_code": sale.product_code,
        "plan_code": sale.plan_code,
        "identity_ref": sale.identity_ref,
        "order_ref": sale.order_ref,
        "documents": [{"id": d.id, "sha256": d.sha256} for d in sale.documents],
        "consent_at": sale.consent_at.isoformat(),
        "page_version": sale.page_version,
        "scenario": {k: str(v) for k, v in sale.scenario.items()},
        "insured_name": sale.insured_name,
    }


def sale_from_dict(data: dict[str, Any]) -> EmbeddedSale:
    return EmbeddedSale(
        product_code=data["product_code"],
        plan_code=data["plan_code"],
        identity_ref=data["identity_ref"],
        order_ref=data["order_ref"],
        documents=tuple(ShownDocument(int(d["id"]), str(d["sha256"])) for d in data["documents"]),
        consent_at=datetime.datetime.fromisoformat(data["consent_at"]),
        page_version=data["page_version"],
        scenario=dict(data.get("scenario") or {}),
        insured_name=data.get("insured_name", ""),
    )


def submit_batch(
    channel: SalesUnit, rows: Sequence[EmbeddedSale], *, chunk_size: int = rules.CHUNK_SIZE
) -> EmbeddedBatch:
    """Stores the sales for processing in the background (chunks of `chunk_size`) and enqueues
    the job when the transaction commits. Each row is judged on its own when its chunk runs."""
    check_channel(channel)
    if not rows:
        raise ValidationFailed(
            "批量任务没有数据", errors=[FieldError("rows", "required", "批量任务没有数据")]
        )
    if len(rows) > rules.MAX_BATCH_ROWS:
        message = f"每个批量任务最多{rules.MAX_BATCH_ROWS}笔"
        raise ValidationFailed(message, errors=[FieldError("rows", "too_many", message)])
    with transaction.atomic():
        batch = EmbeddedBatch.objects.create(
            channel=channel,
            rows=json.dumps([sale_to_dict(s) for s in rows], ensure_ascii=False, separators=(",", ":")),
            total=len(rows),
            chunk_size=max(1, min(chunk_size, rules.MAX_SALES_PER_CALL)),
        )
        audit.record(
            "embedded.batch_submitted",
            OBJ_TYPE,
            str(batch.public_id),
            actor=SYSTEM,
            after={"channel": channel.code, "rows": len(rows)},
        )
        _enqueue_on_commit(batch.pk)
    return batch


def _enqueue_on_commit(batch_id: int) -> None:
    def enqueue() -> None:
        from huibao.embedded.tasks import process_batch_task

        process_batch_task.enqueue(batch_id)

    transaction.on_commit(enqueue)


def chunk_count(batch: EmbeddedBatch) -> int:
    return -(-batch.total // batch.chunk_size)


def process_chunk(batch_id: int, *, now: datetime.datetime | None = None) -> bool:
    """Processes the batch's next chunk, in one transaction with its policies and its progress
    (the batch row locked: two workers never run one chunk). Answers whether chunks remain.
    A batch done (or failed) changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        batch = (
            EmbeddedBatch.objects.select_for_update().select_related("channel").filter(pk=batch_id).first()
        )
        if batch is None or batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return False
        check_transition(
            BATCH_TRANSITIONS, batch.status, BatchStatus.PROCESSING, what=f"batch {batch.public_id}"
        )
        if batch.started_at is None:
            batch.started_at = now
        index = batch.next_chunk
        chunks = chunk_count(batch)
        if index < chunks:
            start = index * batch.chunk_size
            rows = json.loads(batch.rows)[start : start + batch.chunk_size]
            sales: list[EmbeddedSale] = []
            bad: dict[int, EmbeddedOutcome] = {}
            for offset, raw in enumerate(rows):
                try:
                    sales.append(sale_from_dict(raw))
                except (KeyError, TypeError, ValueError):
                    bad[offset] = rules.refused(
                        start + offset, None, [FieldError("row", "invalid", "该行数据无法解析")]
                    )
            outcomes, premium_batch = (
                _issue(batch.channel, sales, now=now, embedded_batch=batch) if sales else ([], None)
            )
            answers: list[EmbeddedOutcome] = []
            it = iter(outcomes)
            for offset in range(len(rows)):
                if offset in bad:
                    answers.append(bad[offset])
                else:
                    answers.append(dataclasses.replace(next(it), index=start + offset))
            EmbeddedBatchChunk.objects.create(
                batch=batch, index=index, outcomes=[a.as_dict() for a in answers], premium_batch=premium_batch
            )
            batch.accepted += sum(1 for a in answers if a.accepted)
            batch.refused += sum(1 for a in answers if not a.accepted)
            batch.premium_total += sum(
                (a.premium or Decimal(0) for a in answers if a.accepted and not a.replayed), Decimal(0)
            )
            batch.next_chunk = index + 1
        batch.status = BatchStatus.PROCESSING
        batch.heartbeat_at = now
        remaining = batch.next_chunk < chunks
        if not remaining:
            check_transition(
                BATCH_TRANSITIONS, batch.status, BatchStatus.DONE, what=f"batch {batch.public_id}"
            )
            batch.status = BatchStatus.DONE
            batch.finished_at = now
        batch.save(
            update_fields=[
                "status",
                "started_at",
                "heartbeat_at",
                "finished_at",
                "accepted",
                "refused",
                "premium_total",
                "next_chunk",
            ]
        )
        if not remaining:
            _finished(batch)
    return remaining


def _finished(batch: EmbeddedBatch) -> None:
    audit.record(
        "embedded.batch_done",
        OBJ_TYPE,
        str(batch.public_id),
        actor=SYSTEM,
        after={
            "status": batch.status,
            "total": batch.total,
            "accepted": batch.accepted,
            "refused": batch.refused,
            "premium_total": batch.premium_total,
        },
    )
    embedded_batch_done.announce(
        EmbeddedBatchDone(
            batch_id=batch.public_id,
            channel_id=batch.channel_id,
            status=batch.status,
            total=batch.total,
            accepted=batch.accepted,
            refused=batch.refused,
            premium_total=batch.premium_total,
        )
    )


def process_batch(batch_id: int, *, stop: Callable[[], bool] | None = None) -> None:
    """Runs the batch's chunks until none remain (or `stop()` says so between chunks)."""
    while process_chunk(batch_id):
        if stop is not None and stop():
            return


def fail_batch(batch_id: int, error: str) -> None:
    """A batch that cannot go on (an unexpected error in a chunk): failed, with what is done kept."""
    with transaction.atomic():
        batch = EmbeddedBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return
        check_transition(BATCH_TRANSITIONS, batch.status, BatchStatus.FAILED, what=f"batch {batch.public_id}")
        batch.status = BatchStatus.FAILED
        batch.error = error[:200]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "error", "finished_at"])
        _finished(batch)


def resume_stale_batches(
    *, now: datetime.datetime | None = None, stale_after: datetime.timedelta = STALE_AFTER
) -> list[int]:
    """The sweep: batches pending or processing whose worker is gone (no heartbeat for
    `stale_after`, or never started) are enqueued again; each resumes at its next chunk.
    Answers their ids."""
    now = now or timezone.now()
    cutoff = now - stale_after
    ids = list(
        EmbeddedBatch.objects.filter(status__in=(BatchStatus.PENDING, BatchStatus.PROCESSING))
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        from huibao.embedded.tasks import process_batch_task

        EmbeddedBatch.objects.filter(pk__in=ids).update(heartbeat_at=now, attempts=F("attempts") + 1)
        enqueue_all([(process_batch_task, (pk,), {}) for pk in ids])
    return ids
