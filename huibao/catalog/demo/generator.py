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
from huibao.catalog.demo.lines import BUILDERS, LINE_INSURER_KINDS, LINE_WEIGHTS, q, service_dicts
from huibao.catalog.demo.texts import documents_for
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

    result: list[DemoProduct] = []
    for line, count in line_counts(products).items():
        candidates = [i for kind in LINE_INSURER_KINDS[line] for i in by_kind.get(kind, [])]
        label = LineOfBusiness(line).label
        for n in range(count):
            insurer = candidates[(n * 7 + rng.randint(0, len(candidates) - 1)) % len(candidates)]
            built = BUILDERS[line](rng, _brand(insurer), levels[insurer.code], n)
            code = f"{LINE_CODES[line]}-{insurer.code}-{n + 1:03d}"
            coverages = [(c["name"], c["description"] or c["name"]) for c in built.plans[-1]["coverages"]]
            documents = documents_for(
                line=line,
                line_label=label,
                product_name=built.name,
                insurer_name=insurer.name,
                coverages=coverages,
                waiting_days=built.waiting_days,
                cooling_off_days=built.cooling_off_days,
                term_label=built.term_options[0]["label"],
                health_questions=built.eligibility.get("health_questions", []),
                hotline=insurer.hotline,
            )
            document = {
                "schema_version": SCHEMA_VERSION,
                "product": {
                    "code": code[:48],
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
                    "value_added_services": service_dicts(built.services),
                    "pricing": built.pricing,
                },
                "plans": built.plans,
                "documents": documents,
            }
            sales, rating, rating_count = _figures(rng, line)
            result.append(DemoProduct(document, sales, rating, rating_count))
    return Market(seed, insurers, list(data.CROWDS), list(data.SCENARIOS), result)


__all__ = ["DEFAULT_PRODUCTS", "DEFAULT_SEED", "Market", "generate_market", "line_counts", "q"]
