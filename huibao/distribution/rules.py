"""Pure rules of distribution: what an agreement covers, who may sit under whom, whether an
agreement may be activated, whether a seller's licence covers a line. No ORM, no I/O: the
selectors and services hand them plain values."""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from huibao.core.errors import FieldError

SELLING_KINDS = ("agent", "channel", "subchannel")


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    """What an agreement says, as plain values."""

    pk: int | None
    number: str
    insurer_id: int
    lines: tuple[str, ...]
    product_ids: frozenset[int]
    valid_from: datetime.date
    valid_until: datetime.date | None


def covers(terms: AgreementTerms, *, product_id: int, line: str) -> bool:
    """An agreement covers a product it lists; when it lists none, every product of its lines."""
    if terms.product_ids:
        return product_id in terms.product_ids
    return line in terms.lines


def in_force_on(terms: AgreementTerms, on: datetime.date) -> bool:
    return terms.valid_from <= on and (terms.valid_until is None or on <= terms.valid_until)


def _periods_overlap(a: AgreementTerms, b: AgreementTerms) -> bool:
    a_end = a.valid_until or datetime.date.max
    b_end = b.valid_until or datetime.date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def _scopes_overlap(a: AgreementTerms, b: AgreementTerms, product_lines: Mapping[int, str]) -> bool:
    """Two agreements of an insurer overlap when some product could be covered by both."""
    if a.product_ids and b.product_ids:
        return bool(a.product_ids & b.product_ids)
    if a.product_ids:
        return any(product_lines.get(p) in b.lines for p in a.product_ids)
    if b.product_ids:
        return any(product_lines.get(p) in a.lines for p in b.product_ids)
    return bool(set(a.lines) & set(b.lines))


def activation_errors(
    terms: AgreementTerms,
    *,
    licence_lines: Collection[str],
    licence_valid_until: datetime.date | None,
    product_lines: Mapping[int, str],
    product_insurers: Mapping[int, int],
    others: Iterable[AgreementTerms],
    line_labels: Mapping[str, str],
    today: datetime.date,
) -> list[FieldError]:
    """Why `terms` may not become active (empty: it may). `others` are the insurer's other
    active agreements; `product_lines`/`product_insurers` describe the listed products."""
    errors: list[FieldError] = []
    lines = set(terms.lines) | {product_lines[p] for p in terms.product_ids if p in product_lines}
    if not lines:
        errors.append(FieldError("lines", "required", "请至少选择一个险种或产品"))
    outside = sorted(line for line in lines if line not in licence_lines)
    if outside:
        names = "、".join(line_labels.get(line, line) for line in outside)
        errors.append(FieldError("lines", "outside_licence", f"代理机构的许可证经营范围不含：{names}"))
    if licence_valid_until is not None and licence_valid_until < today:
        errors.append(
            FieldError("agency", "licence_expired", f"代理机构许可证已于{licence_valid_until:%Y-%m-%d}到期")
        )
    foreign = sorted(p for p in terms.product_ids if product_insurers.get(p) != terms.insurer_id)
    if foreign:
        errors.append(FieldError("products", "other_insurer", "所选产品须属于本协议的保险公司"))
    if terms.valid_until is not None and terms.valid_until < terms.valid_from:
        errors.append(FieldError("valid_until", "before_start", "协议终止日期不能早于起始日期"))
    elif terms.valid_until is not None and terms.valid_until < today:
        errors.append(FieldError("valid_until", "in_past", "协议已过期，不能生效"))
    for other in others:
        if other.pk == terms.pk:
            continue
        if _periods_overlap(terms, other) and _scopes_overlap(terms, other, product_lines):
            errors.append(
                FieldError(
                    "lines",
                    "overlapping_agreement",
                    f"与生效中的协议{other.number}在同一产品或险种、同一期间重叠",
                )
            )
    return errors


def parent_error(kind: str, parent_kind: str | None, allowed: Mapping[str, tuple[str, ...]]) -> str | None:
    """Why a unit of `kind` may not sit under a unit of `parent_kind` (None: it may)."""
    permitted = allowed.get(kind)
    if permitted is None:
        return f"未知的组织类型：{kind}"
    if parent_kind is None:
        return None if not permitted else "该类型的组织必须有上级"
    if parent_kind not in permitted:
        return "该类型的组织不能设在所选上级之下"
    return None


def licence_refusal(
    *,
    kind: str,
    is_active: bool,
    licence_lines: Collection[str],
    licence_valid_until: datetime.date | None,
    line: str,
    on: datetime.date,
) -> str | None:
    """Why (a code) a seller may not sell a product of `line` on `on`; None when it may. An
    agent needs its own practice registration covering the line, valid on the day (the check
    reads the date: an expired registration stops selling on the next day, no job needed); a
    channel or sub-channel with a licence of its own needs it to cover the line; the agency's
    own units (branch, team) sell under the agency's licence."""
    if not is_active:
        return "seller_inactive"
    if kind == "agent" or (kind in ("channel", "subchannel") and licence_lines):
        if licence_valid_until is not None and licence_valid_until < on:
            return "licence_expired"
        if line not in licence_lines:
            return "licence_not_covering"
    return None
