"""Reads of distribution and its access checkpoints: whether a product may be sold (`sellable`),
the hierarchy (`subtree`, `unit_by_code`, `seller_for_user`), what a user may see.

Who runs the platform decides what "sellable" needs (`settings.HUIBAO_OPERATOR`):
- "agency" (the default): an online agency (保险专业代理机构); a product sells only while an
  active agreement of its insurer covers it on the day.
- "insurer:<code>": one insurer's own online channel; its products need no agreement, every
  other insurer's product is refused.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huibao.catalog.models import Insurer, LineOfBusiness, Product
from huibao.core.errors import FieldError
from huibao.distribution import rules
from huibao.distribution.models import (
    AgreementRevision,
    AgreementStatus,
    AgreementStatusChange,
    InsurerAgreement,
    SalesUnit,
    SalesUnitKind,
    SalesUnitMember,
)

AGENCY_MODE = "agency"


def operator() -> tuple[str, str]:
    """("agency", "") or ("insurer", code)."""
    raw = str(getattr(settings, "HUIBAO_OPERATOR", AGENCY_MODE) or AGENCY_MODE).strip()
    if raw.startswith("insurer:") and raw[len("insurer:") :]:
        return "insurer", raw[len("insurer:") :]
    return AGENCY_MODE, ""


def line_label(line: str) -> str:
    try:
        return str(LineOfBusiness(line).label)
    except ValueError:
        return line


def terms_of(agreement: InsurerAgreement, product_ids: Sequence[int] | None = None) -> rules.AgreementTerms:
    ids = product_ids if product_ids is not None else [p.pk for p in agreement.products.all()]
    return rules.AgreementTerms(
        pk=agreement.pk,
        number=agreement.number,
        insurer_id=agreement.insurer_id,
        lines=tuple(agreement.lines or ()),
        product_ids=frozenset(ids),
        valid_from=agreement.valid_from,
        valid_until=agreement.valid_until,
    )


def _product_of(product_or_version: Any) -> Product:
    product = getattr(product_or_version, "product", product_or_version)
    if not isinstance(product, Product):
        raise TypeError("sellable(): a Product or a ProductVersion")
    return product


@dataclass(frozen=True, slots=True)
class AgreementView:
    """An agreement as `sellable` reads it: its status and its terms. Immutable, so a cache may
    keep it (keyed by `agreement_revision()`)."""

    status: str
    terms: rules.AgreementTerms


def agreement_revision() -> int:
    """The agreement revision counter (moved by triggers with every agreement change): a cache of
    agreement reads compares it to know when to read again."""
    return AgreementRevision.objects.filter(pk=1).values_list("counter", flat=True).first() or 0


def insurer_agreements(insurer_ids: Sequence[int]) -> dict[int, tuple[AgreementView, ...]]:
    """The agreements of the insurers (any status, any dates), by insurer id: one query, and one
    for their products. What `sellable(…, agreements=…)` takes instead of reading them itself."""
    found: dict[int, list[AgreementView]] = {pk: [] for pk in insurer_ids}
    rows = InsurerAgreement.objects.filter(insurer_id__in=sorted(set(insurer_ids))).prefetch_related(
        "products"
    )
    for agreement in rows:
        found[agreement.insurer_id].append(AgreementView(status=agreement.status, terms=terms_of(agreement)))
    return {pk: tuple(views) for pk, views in found.items()}


def _covering(product: Product, agreements: Sequence[AgreementView] | None = None) -> list[AgreementView]:
    """The insurer's agreements that cover `product` by their terms (any status, any dates):
    from `agreements` when the caller read them (`insurer_agreements`), else one read."""
    if agreements is None:
        agreements = insurer_agreements([product.insurer_id])[product.insurer_id]
    return [a for a in agreements if rules.covers(a.terms, product_id=product.pk, line=product.line)]


def sellable(
    product_or_version: Any,
    *,
    on: datetime.date | None = None,
    seller: SalesUnit | None = None,
    field: str = "product_code",
    agreements: Sequence[AgreementView] | None = None,
) -> FieldError | None:
    """Why the product may not be sold on `on` (by `seller`, if given), as a field error naming
    `field`; None when it may. Reads the agreements of the product's insurer (one query, and one
    for their products) unless the caller passes them (`agreements`: `insurer_agreements` of
    the product's insurer, e.g. from a cache checked against `agreement_revision()`)."""
    product = _product_of(product_or_version)
    on = on or timezone.localdate()
    mode, own_insurer = operator()
    name = product.name
    if mode == "insurer":
        if product.insurer.code != own_insurer:
            return FieldError(
                field, "not_sold_here", str(AGREEMENT_MESSAGES["not_sold_here"]) % {"name": name}
            )
    else:
        covering = _covering(product, agreements)
        if not any(a.status == AgreementStatus.ACTIVE and rules.in_force_on(a.terms, on) for a in covering):
            return _agreement_refusal(product, covering, on, field)
    if seller is not None:
        code = rules.licence_refusal(
            kind=seller.kind,
            is_active=seller.is_active,
            licence_lines=seller.licence_lines or [],
            licence_valid_until=seller.licence_valid_until,
            line=product.line,
            on=on,
        )
        if code is not None:
            until = seller.licence_valid_until.isoformat() if seller.licence_valid_until else ""
            message = str(LICENCE_MESSAGES[code]) % {
                "name": name,
                "line": line_label(product.line),
                "date": until,
            }
            return FieldError("seller_code", code, message)
    return None


LICENCE_MESSAGES = {
    "seller_inactive": _("销售人员或渠道已停用，不能销售“%(name)s”"),
    "licence_expired": _("销售资质已于%(date)s到期，不能销售“%(name)s”"),
    "licence_not_covering": _("销售资质不含%(line)s，不能销售“%(name)s”"),
}
AGREEMENT_MESSAGES = {
    "agreement_suspended": _("“%(name)s”的保险公司合作协议已暂停，暂停销售"),
    "agreement_not_in_force": _("“%(name)s”的保险公司合作协议不在有效期内，暂停销售"),
    "agreement_ended": _("“%(name)s”的保险公司合作协议已终止，停止销售"),
    "no_agreement": _("“%(name)s”暂无生效的保险公司合作协议，暂不可售"),
    "not_sold_here": _("“%(name)s”不在本平台销售"),
}


def _agreement_refusal(
    product: Product, covering: list[AgreementView], on: datetime.date, field: str
) -> FieldError:
    statuses = {a.status for a in covering}
    if AgreementStatus.SUSPENDED in statuses:
        code = "agreement_suspended"
    elif any(a.status == AgreementStatus.ACTIVE for a in covering):
        code = "agreement_not_in_force"
    elif AgreementStatus.ENDED in statuses:
        code = "agreement_ended"
    else:
        code = "no_agreement"
    return FieldError(field, code, str(AGREEMENT_MESSAGES[code]) % {"name": product.name})


def was_sellable_at(product_or_version: Any, at: datetime.datetime) -> bool:
    """Whether an agreement covering the product was active at `at` (by its status history) and
    in force on that day: what an application signed at `at` was promised."""
    product = _product_of(product_or_version)
    mode, own_insurer = operator()
    if mode == "insurer":
        return bool(product.insurer.code == own_insurer)
    day = timezone.localtime(at).date()
    for agreement in _covering(product):
        if not rules.in_force_on(agreement.terms, day):
            continue
        last = (
            AgreementStatusChange.objects.filter(agreement_id=agreement.terms.pk, created_at__lte=at)
            .order_by("-created_at", "-id")
            .values_list("to_status", flat=True)
            .first()
        )
        if last == AgreementStatus.ACTIVE:
            return True
    return False


def coverage_sql(product_alias: str) -> tuple[str, list[Any]]:
    """An SQL boolean expression: the product of table alias `product_alias` is covered today
    (by `HUIBAO_OPERATOR`), with its parameters. The quote path adds it to its one read so that
    pricing stays one query; a refusal is explained by `sellable` afterwards."""
    mode, own_insurer = operator()
    if mode == "insurer":
        return _insurer_sql(product_alias), [own_insurer]
    today = timezone.localdate()
    day: Any = today.isoformat() if connection.vendor == "sqlite" else today
    return _agency_sql(product_alias, connection.vendor), [AgreementStatus.ACTIVE, day, day]


@functools.cache
def _insurer_sql(p: str) -> str:
    qn = connection.ops.quote_name
    # Only quoted identifiers of our own models are interpolated; values are parameters.
    table = qn(Insurer._meta.db_table)
    return f"(SELECT {qn('code')} FROM {table} WHERE {qn('id')} = {p}.{qn('insurer_id')}) = %s"  # noqa: S608


@functools.cache
def _agency_sql(p: str, vendor: str) -> str:
    qn = connection.ops.quote_name
    agreements = qn(InsurerAgreement._meta.db_table)
    through = qn(InsurerAgreement.products.through._meta.db_table)
    if vendor == "postgresql":
        in_lines = f"a.{qn('lines')} @> jsonb_build_array({p}.{qn('line')})"
    else:
        in_lines = f"EXISTS (SELECT 1 FROM json_each(a.{qn('lines')}) j WHERE j.value = {p}.{qn('line')})"  # noqa: S608
    return (
        f"EXISTS (SELECT 1 FROM {agreements} a WHERE a.{qn('insurer_id')} = {p}.{qn('insurer_id')}"  # noqa: S608
        f" AND a.{qn('status')} = %s AND a.{qn('valid_from')} <= %s"
        f" AND (a.{qn('valid_until')} IS NULL OR a.{qn('valid_until')} >= %s)"
        f" AND (EXISTS (SELECT 1 FROM {through} t WHERE t.{qn('insureragreement_id')} = a.{qn('id')}"
        f" AND t.{qn('product_id')} = {p}.{qn('id')})"
        f" OR (NOT EXISTS (SELECT 1 FROM {through} t WHERE t.{qn('insureragreement_id')} = a.{qn('id')})"
        f" AND {in_lines})))"
    )


# --- the hierarchy ----------------------------------------------------------------------------


def subtree(unit: SalesUnit, *, include_self: bool = True) -> QuerySet[SalesUnit]:
    """The unit and everything under it: one prefix query on the materialised path."""
    below = Q(path__startswith=unit.path + "/")
    return SalesUnit.objects.filter(below | Q(pk=unit.pk) if include_self else below).order_by("path")


def unit_by_code(code: str) -> SalesUnit | None:
    return SalesUnit.objects.filter(code=code).first()


SELLER_CODE_KINDS = (SalesUnitKind.AGENT, SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)


def seller_by_code(code: str) -> SalesUnit | None:
    """The active channel, sub-channel or agent whose referral code is `code` (its unit code)."""
    code = (code or "").strip()
    if not code:
        return None
    return SalesUnit.objects.filter(code=code, kind__in=SELLER_CODE_KINDS, is_active=True).first()


def seller_for_user(user: Any) -> SalesUnit | None:
    """The active agent unit of a user (an agent starting applications for customers)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return SalesUnit.objects.filter(user_id=user.pk, kind=SalesUnitKind.AGENT, is_active=True).first()


def managed_units(user: Any) -> list[SalesUnit]:
    """The units a channel or branch staff user belongs to (their scope)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return [m.unit for m in SalesUnitMember.objects.filter(user_id=user.pk).select_related("unit")]


def sees_all(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("distribution.view_salesunit"))


def units_visible_to(user: Any) -> QuerySet[SalesUnit]:
    """Every unit for staff who read the hierarchy; a channel manager's own subtrees; else none."""
    if sees_all(user):
        return SalesUnit.objects.all().order_by("path")
    roots = managed_units(user)
    if not roots:
        return SalesUnit.objects.none()
    q = Q()
    for root in roots:
        q |= Q(pk=root.pk) | Q(path__startswith=root.path + "/")
    return SalesUnit.objects.filter(q).order_by("path")


def unit_for_user(user: Any, pk: int) -> SalesUnit | None:
    return units_visible_to(user).filter(pk=pk).first()


def agreements_visible_to(user: Any) -> QuerySet[InsurerAgreement]:
    if getattr(user, "is_authenticated", False) and user.has_perm("distribution.view_insureragreement"):
        return InsurerAgreement.objects.select_related("insurer", "agency").order_by(
            "insurer__code", "-valid_from"
        )
    return InsurerAgreement.objects.none()


def agreement_for_user(user: Any, pk: int) -> InsurerAgreement | None:
    return agreements_visible_to(user).filter(pk=pk).first()


def covered_today(product_alias: str) -> RawSQL:
    """An annotation: whether the product of table alias `product_alias` (quoted) may be sold
    today, by `coverage_sql`; for a read that joins the product already (issuance's items), so
    that checking costs no query of its own."""
    coverage, params = coverage_sql(product_alias)
    return RawSQL(coverage, params, output_field=BooleanField())  # noqa: S611


def unsellable_products(product_ids: Sequence[int] | QuerySet[Any]) -> list[Product]:
    """Which of the products (ids, or a query of ids) may not be sold today (by
    `HUIBAO_OPERATOR`): one query, whatever their number — what issuance checks before it
    writes anything."""
    table = connection.ops.quote_name(Product._meta.db_table)
    coverage, params = coverage_sql(table)
    return list(
        Product.objects.filter(pk__in=product_ids)
        .annotate(covered=RawSQL(coverage, params, output_field=BooleanField()))  # noqa: S611
        .filter(covered=False)
        .select_related("insurer")
    )
