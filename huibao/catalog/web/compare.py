"""Product comparison: the compare tray kept in the session, and the side-by-side table.

`comparison_rows` is a pure function over already-loaded products: it aligns each coverage by its
name across products (the same benefit is named the same way by every insurer in this catalog)
and marks the rows whose cells differ, so the page can highlight them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from huibao.catalog.models import PaymentMode, Plan, Product, ProductVersion
from huibao.core.money import format_cny

TRAY_SESSION_KEY = "compare_codes"
MAX_COMPARE = 4
MIN_COMPARE = 2


class TrayFull(Exception):
    """The tray already holds MAX_COMPARE products."""


def tray_codes(session: SessionBase) -> list[str]:
    codes = session.get(TRAY_SESSION_KEY) or []
    return [str(c) for c in codes][:MAX_COMPARE]


def tray_add(session: SessionBase, code: str) -> list[str]:
    """Adds `code` (once); raises TrayFull when a fifth product would be added."""
    codes = tray_codes(session)
    if code in codes:
        return codes
    if len(codes) >= MAX_COMPARE:
        raise TrayFull(code)
    codes.append(code)
    session[TRAY_SESSION_KEY] = codes
    return codes


def tray_remove(session: SessionBase, code: str) -> list[str]:
    codes = [c for c in tray_codes(session) if c != code]
    session[TRAY_SESSION_KEY] = codes
    return codes


def tray_clear(session: SessionBase) -> None:
    session[TRAY_SESSION_KEY] = []


def parse_codes(raw: str) -> list[str]:
    """'a, b,,a' → ['a', 'b']: trimmed, de-duplicated, order kept."""
    return list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))


# --- Formatting of cells ------------------------------------------------------------------------


def money_short(amount: Decimal | None) -> str:
    """¥2,000,000 → ¥200万 in Chinese (¥2,000,000 in other languages); small amounts in full."""
    if amount is None:
        return "—"
    if not (get_language() or "zh").startswith("zh"):
        return f"¥{amount:,.0f}" if amount == amount.to_integral_value() else format_cny(amount)
    if amount >= 10000 and amount % 10000 == 0:
        return f"¥{amount / 10000:,.0f}万"
    if amount >= 10000:
        return f"¥{(amount / 10000).normalize():f}万"
    return f"¥{amount:,.0f}" if amount == amount.to_integral_value() else format_cny(amount)


def ratio_text(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def days_text(days: int) -> str:
    return _("none") if days == 0 else _("%(days)s days") % {"days": days}


def age_range_text(version: ProductVersion) -> str:
    eligibility = version.eligibility or {}
    min_days = int(eligibility.get("min_age_days") or 0)
    low = (
        _("%(days)s days") % {"days": min_days} if min_days < 365 else _("%(n)s yrs") % {"n": min_days // 365}
    )
    max_age = eligibility.get("max_age")
    high = _("%(n)s yrs") % {"n": max_age} if max_age is not None else _("no limit")
    return f"{low} – {high}"


def renewal_text(version: ProductVersion) -> str:
    renewal = version.renewal or {}
    if not renewal.get("renewable"):
        return _("Not renewable")
    years = int(renewal.get("guaranteed_years") or 0)
    if years:
        return _("Guaranteed renewal for %(n)s years") % {"n": years}
    return _("Renewable (not guaranteed)")


def term_text(version: ProductVersion) -> str:
    return " / ".join(str(t.get("label") or t.get("code")) for t in version.term_options or []) or "—"


def payment_modes_text(version: ProductVersion) -> str:
    labels = dict(PaymentMode.choices)
    return " / ".join(str(labels.get(m, m)) for m in version.payment_modes or []) or "—"


def services_text(version: ProductVersion) -> str:
    return "、".join(str(s.get("name")) for s in version.value_added_services or []) or "—"


def main_plan(version: ProductVersion) -> Plan | None:
    """The plan a comparison shows: the recommended one, else the first."""
    plans = list(version.plans.all())
    return next((p for p in plans if p.is_recommended), plans[0] if plans else None)


def _sum_insured_text(plan: Plan) -> str:
    if plan.min_sum_insured == plan.max_sum_insured:
        return money_short(plan.max_sum_insured)
    return f"{money_short(plan.min_sum_insured)}–{money_short(plan.max_sum_insured)}"


# --- The table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRow:
    label: str
    cells: tuple[str, ...]
    group: str = ""

    @property
    def differs(self) -> bool:
        return len(set(self.cells)) > 1


def comparison_rows(products: Sequence[Product]) -> list[CompareRow]:
    """The rows of the comparison of `products` (each with its current version and plans loaded)."""
    versions = [p.current_version for p in products]
    plans = [main_plan(v) if v is not None else None for v in versions]

    def row(label: str, values: Sequence[str], group: str = "") -> CompareRow:
        return CompareRow(label=label, cells=tuple(values), group=group)

    def per_version(fn: Callable[[ProductVersion], str]) -> list[str]:
        return [str(fn(v)) if v is not None else "—" for v in versions]

    rows = [
        row(_("Insurer"), [p.insurer.short_name or p.insurer.name for p in products], "basics"),
        row(
            _("Premium from"),
            [format_cny(p.premium_from) if p.premium_from else "—" for p in products],
            "basics",
        ),
        row(_("Plan shown"), [plan.name if plan else "—" for plan in plans], "basics"),
        row(_("Sum insured"), [_sum_insured_text(plan) if plan else "—" for plan in plans], "basics"),
        row(
            _("Other plans"),
            [
                "、".join(f"{pl.name} {_sum_insured_text(pl)}" for pl in v.plans.all()) if v else "—"
                for v in versions
            ],
            "basics",
        ),
    ]

    # Coverage rows aligned by name, in the order they first appear.
    coverage_names: dict[str, None] = {}
    by_product: list[dict[str, str]] = []
    mains = []
    for plan in plans:
        cells: dict[str, str] = {}
        coverages = list(plan.coverages.all()) if plan else []
        mains.append(coverages[0] if coverages else None)
        for coverage in coverages:
            coverage_names.setdefault(coverage.name, None)
            cells[coverage.name] = money_short(coverage.sum_insured)
        by_product.append(cells)
    for name in coverage_names:
        rows.append(row(name, [cells.get(name, _("Not covered")) for cells in by_product], "coverage"))

    rows += [
        row(_("Deductible"), [money_short(c.deductible) if c else "—" for c in mains], "terms"),
        row(
            _("Reimbursement ratio"),
            [ratio_text(c.reimbursement_ratio) if c else "—" for c in mains],
            "terms",
        ),
        row(_("Waiting period"), [days_text(c.waiting_period_days) if c else "—" for c in mains], "terms"),
        row(_("Age range"), per_version(age_range_text), "terms"),
        row(_("Term"), per_version(term_text), "terms"),
        row(_("Payment modes"), per_version(payment_modes_text), "terms"),
        row(
            _("Cooling-off period"),
            [days_text(v.cooling_off_days) if v is not None else "—" for v in versions],
            "terms",
        ),
        row(_("Renewal"), per_version(renewal_text), "terms"),
        row(_("Value-added services"), per_version(services_text), "terms"),
    ]
    return rows
