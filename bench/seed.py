"""Child-process helpers of the harness: `load` the catalog once, `sample` valid quote bodies.

`load` uses `manage.py load_demo` when that command exists (the demo market of ~1,000 products)
and otherwise creates `--products` products from the rating test fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import django


def _load(products: int, marker: Path) -> None:
    """Loads the catalog unless the database already holds what was asked for (recorded in
    `marker`); a database loaded from other data is flushed first."""
    from django.core.management import call_command, get_commands

    from huibao.catalog.models import Product, ProductStatus

    want = "demo" if "load_demo" in get_commands() and not products else f"fixtures:{products or 200}"
    have = marker.read_text().strip() if marker.exists() else ""
    on_sale = Product.objects.filter(status=ProductStatus.ON_SALE).count()
    if on_sale and have == want:
        print(f"[bench] catalog already loaded ({want}): {on_sale} products on sale", file=sys.stderr)
        return
    if Product.objects.exists():
        print(f"[bench] flushing a catalog loaded from {have or 'unknown data'}", file=sys.stderr)
        call_command("flush", interactive=False, verbosity=0)
    if want == "demo":
        print("[bench] loading the demo market (manage.py load_demo)", file=sys.stderr)
        call_command("load_demo")
    else:
        from huibao.rating.tests import factories

        print(f"[bench] creating {products or 200} products from the rating fixtures", file=sys.stderr)
        factories.catalog(products or 200)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(want)
    print(
        f"[bench] {Product.objects.filter(status=ProductStatus.ON_SALE).count()} products on sale",
        file=sys.stderr,
    )


def _sample(count: int) -> None:
    from huibao.catalog.models import Product, ProductStatus
    from huibao.rating import rules, services
    from huibao.rating.errors import QuoteRejected, RatingError, SpecError

    rng = random.Random(20261122)
    rows = list(
        Product.objects.filter(status=ProductStatus.ON_SALE, current_version__isnull=False)
        .order_by("code")
        .values_list("code", "current_version_id")
    )
    rng.shuffle(rows)
    written = 0
    for code, version_id in rows:
        if written >= count:
            break
        try:
            product = services.get_rating_product(version_id)
        except SpecError:
            continue
        plan = rng.choice(product.plans)
        elig = product.eligibility
        low = max(elig.min_age_years, 18)
        high = max(low, min(elig.max_age if elig.max_age is not None else 60, 60))
        profile = {"age": rng.randint(low, high), "sex": rng.choice("MF")}
        inputs = rules.fill_profile(product, plan, profile)
        try:
            result = rules.price(product, plan.code, inputs)
        except (QuoteRejected, RatingError):
            continue
        print(
            json.dumps(
                {"product_code": code, "plan_code": plan.code, "inputs": result.inputs}, ensure_ascii=False
            )
        )
        written += 1
    print(f"[bench] {written} sample quote bodies", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["load", "sample"])
    parser.add_argument("--products", type=int, default=0)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--marker", type=Path, default=Path("var/bench/catalog.source"))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    django.setup()
    if args.action == "load":
        _load(args.products, args.marker)
    else:
        _sample(args.count)


if __name__ == "__main__":
    main()
