"""The demo market generator: deterministic for a seed, pure (no database).

`generate_market(seed, products=1000)` returns insurers, crowds, scenarios and one product document
per product (the `huibao.catalog.io` format, so every generated product is also a valid import
file), plus its marketplace figures (sales, ratings). `huibao.catalog.demo.loader` writes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from huibao.catalog.demo import data
from huibao.catalog.demo.claims import claims_for
from huibao.catalog.demo.lines import (
    AUTO_BUNDLE_ACCIDENT_N,
    BUILDERS,
    LINE_INSURER_KINDS,
    LINE_WEIGHTS,
    SIMPLE_ACCIDENT_N,
    q,
    rules_for,
    service_dicts,
    special_accident,
)
from huibao.catalog.demo.servicing import servicing_for
from huibao.catalog.demo.texts import documents_for, period_text, single_document_for
from huibao.catalog.io import SCHEMA_VERSION
from huibao.catalog.models import LineOfBusiness

DEFAULT_SEED = 20261122
DEFAULT_PRODUCTS = 1000

LINE_CODES = {
    "accident": "acc",
    "travel": "trv",
    "medical": "med",
    "critical_illness": "ci",
    "term_life": "tl",
    "whole_life": "wl",
    "auto_compulsory": "ctp",
    "auto_commercial": "car",
    "home_property": "home",
    "return_shipping": "ship",
    "phone_screen": "scr",
    "pet": "pet",
    "flight_delay": "fly",
    "account_security": "acct",
}


def product_code(line: str, insurer_code: str, n: int) -> str:
    """The code of the `n`-th (from 0) generated product of `line`."""
    return f"{LINE_CODES[line]}-{insurer_code}-{n + 1:03d}"[:48]


# Products whose insurer is fixed, whatever the seed, so their codes are stable:
SIMPLE_ACCIDENT_INSURER = "zhongan"
AUTO_BUNDLE_INSURER = "cic"  # 中华财险: 交强险 + 商业险 + 驾乘意外险 on one application
FIXED_INSURERS: dict[tuple[str, int], str] = {
    ("accident", SIMPLE_ACCIDENT_N): SIMPLE_ACCIDENT_INSURER,
    ("accident", AUTO_BUNDLE_ACCIDENT_N): AUTO_BUNDLE_INSURER,
    ("auto_compulsory", 0): AUTO_BUNDLE_INSURER,
    ("auto_commercial", 0): AUTO_BUNDLE_INSURER,
}
# The simplest product to buy (no health questions, one document read for 3 s, confirmation
# instead of a handwritten signature): in every market with at least two accident products
# (≥ 28 products in all), e.g. the default one. Used by the benchmarks.
SIMPLE_ACCIDENT_CODE = product_code("accident", SIMPLE_ACCIDENT_INSURER, SIMPLE_ACCIDENT_N)
# One insurer's compulsory motor, commercial motor and driver-and-passenger accident products
# (in every market with at least three accident products, ≥ 36 products in all).
AUTO_BUNDLE_CODES: tuple[str, ...] = (
    product_code("auto_compulsory", AUTO_BUNDLE_INSURER, 0),
    product_code("auto_commercial", AUTO_BUNDLE_INSURER, 0),
    product_code("accident", AUTO_BUNDLE_INSURER, AUTO_BUNDLE_ACCIDENT_N),
)


def simple_accident_product_code() -> str:
    return SIMPLE_ACCIDENT_CODE


def demo_auto_bundle_codes() -> list[str]:
    """[交强险, 商业车险, 驾乘意外险] of the same insurer, in that order."""
    return list(AUTO_BUNDLE_CODES)


@dataclass(frozen=True)
class DemoInsurer:
    code: str
    name: str
    short_name: str
    kind: str
    founded_year: int
    registered_capital_yi: Decimal
    solvency_ratio: int
    service_rating: str
    hotline: str
    headquarters: str
    description: str


@dataclass(frozen=True)
class DemoProduct:
    document: dict[str, Any]
    sales_count: int
    rating_avg: Decimal
    rating_count: int


@dataclass(frozen=True)
class Market:
    seed: int
    insurers: list[DemoInsurer]
    crowds: list[tuple[str, str]]
    scenarios: list[tuple[str, str]]
    products: list[DemoProduct]


def line_counts(total: int) -> dict[str, int]:
    """Products per line: proportional to `LINE_WEIGHTS` (largest remainder), at least one each."""
    lines = list(LINE_WEIGHTS)
    if total < len(lines):
        raise ValueError(f"at least {len(lines)} products are needed to cover every line")
    weight_sum = sum(LINE_WEIGHTS.values())
    spare = total - len(lines)
    exact = {line: Decimal(LINE_WEIGHTS[line] * spare) / weight_sum for line in lines}
    counts = {line: 1 + int(exact[line]) for line in lines}
    left = total - sum(counts.values())
    for line in sorted(lines, key=lambda k: (-(exact[k] - int(exact[k])), k))[:left]:
        counts[line] += 1
    return counts


def _insurers(rng: random.Random) -> list[DemoInsurer]:
    result = []
    for code, short, name, kind, hq in data.INSURERS:
        big = short in {
            "平安产险",
            "人保财险",
            "太平洋产险",
            "中国人寿",
            "平安人寿",
            "新华保险",
            "太平洋人寿",
        }
        capital = Decimal(rng.randint(200, 3000)) if big else Decimal(rng.randint(10, 150))
        hotline = (
            f"95{rng.randint(500, 599)}"
            if big or rng.random() < 0.4
            else (f"400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}")
        )
        rating = rng.choices(["AAA", "AA", "A", "BBB", "B"], weights=[3, 4, 3, 1, 1])[0]
        result.append(
            DemoInsurer(
                code=code,
                name=name,
                short_name=short,
                kind=kind,
                founded_year=rng.randint(1949, 1999) if big else rng.randint(1996, 2021),
                registered_capital_yi=capital + Decimal(rng.randint(0, 99)) / 100,
                solvency_ratio=rng.randint(130, 320),
                service_rating=rating,
                hotline=hotline,
                headquarters=hq,
                description=f"{name}，总部位于{hq}。（演示数据：资本、偿付能力与评级为虚构数字。）",
            )
        )
    return result


def _brand(insurer: DemoInsurer) -> str:
    short = insurer.short_name
    for cut in ("保险", "产险", "财险", "人寿", "健康", "养老", "车险"):
        if short.endswith(cut) and len(short) > len(cut) + 1:
            return short[: -len(cut)]
    return short


def _figures(rng: random.Random, line: str) -> tuple[int, Decimal, int]:
    popular = line in {"accident", "medical", "return_shipping", "travel", "flight_delay", "auto_compulsory"}
    mu = 8.5 if popular else 6.5
    sales = int(min(rng.lognormvariate(mu, 1.6), 5_000_000))
    rating_count = sales // rng.randint(15, 60)
    if rating_count == 0:
        return sales, Decimal("0"), 0
    rating = Decimal(rng.randint(380, 498)) / 100
    return sales, rating, rating_count


def generate_market(seed: int = DEFAULT_SEED, products: int = DEFAULT_PRODUCTS) -> Market:
    rng = random.Random(seed)
    insurers = _insurers(rng)
    by_kind: dict[str, list[DemoInsurer]] = {}
    for insurer in insurers:
        by_kind.setdefault(insurer.kind, []).append(insurer)
    levels = {i.code: Decimal(rng.randint(86, 118)) / 100 for i in insurers}
    by_code = {i.code: i for i in insurers}

    result: list[DemoProduct] = []
    for line, count in line_counts(products).items():
        candidates = [i for kind in LINE_INSURER_KINDS[line] for i in by_kind.get(kind, [])]
        label = LineOfBusiness(line).label
        for n in range(count):
            insurer = candidates[(n * 7 + rng.randint(0, len(candidates) - 1)) % len(candidates)]
            insurer = by_code.get(FIXED_INSURERS.get((line, n), ""), insurer)
            built = BUILDERS[line](rng, _brand(insurer), levels[insurer.code], n)
            if line == "accident":
                built = special_accident(built, _brand(insurer), n)
            if (line, n) in FIXED_INSURERS:
                built.eligibility["regions"] = []  # sold everywhere: the benchmarks rely on them
            built.application_rules, built.underwriting = rules_for(line, built, n)
            code = product_code(line, insurer.code, n)
            coverages = [(c["name"], c["description"] or c["name"]) for c in built.plans[-1]["coverages"]]
            pay_years = built.pricing.get("inputs", {}).get("pay_years", {}).get("choices")
            period = period_text(built.term_options, built.payment_modes, pay_years)
            if built.simple:
                documents = single_document_for(
                    line=line,
                    product_name=built.name,
                    insurer_name=insurer.name,
                    coverages=coverages,
                    period=period,
                    hotline=insurer.hotline,
                )
            else:
                documents = documents_for(
                    line=line,
                    line_label=label,
                    product_name=built.name,
                    insurer_name=insurer.name,
                    coverages=coverages,
                    waiting_days=built.waiting_days,
                    cooling_off_days=built.cooling_off_days,
                    period=period,
                    health_questions=built.eligibility.get("health_questions", []),
                    hotline=insurer.hotline,
                )
            document = {
                "schema_version": SCHEMA_VERSION,
                "product": {
                    "code": code,
                    "name": built.name[:64],
                    "insurer": insurer.code,
                    "line": line,
                    "crowds": sorted(set(built.crowds)),
                    "scenarios": sorted(set(built.scenarios)),
                },
                "version": {
                    "tagline": built.tagline,
                    "description": f"{built.name}由{insurer.name}承保。{built.tagline}。",
                    "highlights": built.highlights,
                    "eligibility": built.eligibility,
                    "term_options": built.term_options,
                    "payment_modes": built.payment_modes,
                    "cooling_off_days": built.cooling_off_days,
                    "renewal": built.renewal,
                    "servicing": servicing_for(line, renewable=bool(built.renewal.get("renewable"))),
                    "claims": claims_for(line, built.plans),
                    "value_added_services": service_dicts(built.services),
                    "pricing": built.pricing,
                    "application_rules": built.application_rules,
                    "underwriting": built.underwriting,
                },
                "plans": built.plans,
                "documents": documents,
            }
            sales, rating, rating_count = _figures(rng, line)
            result.append(DemoProduct(document, sales, rating, rating_count))
    return Market(seed, insurers, list(data.CROWDS), list(data.SCENARIOS), result)


__all__ = [
    "AUTO_BUNDLE_CODES",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "SIMPLE_ACCIDENT_CODE",
    "Market",
    "demo_auto_bundle_codes",
    "generate_market",
    "line_counts",
    "product_code",
    "q",
    "simple_accident_product_code",
]
