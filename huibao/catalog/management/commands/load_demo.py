"""`manage.py load_demo [--seed N] [--products N] [--reset]`: the demo market, in one transaction."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import ProtectedError

from huibao.catalog.demo import (
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    catalog_has_data,
    generate_market,
    load_market,
    wipe_catalog,
)


class Command(BaseCommand):
    help = (
        "Load the generated demo market (insurers, crowds, scenarios, products); skips if a catalog exists."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same market)"
        )
        parser.add_argument(
            "--products", type=int, default=DEFAULT_PRODUCTS, help="number of products (≥ 14)"
        )
        parser.add_argument("--reset", action="store_true", help="wipe the catalog first")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if options["reset"]:
            try:
                wipe_catalog(actor="load_demo")
            except ProtectedError as exc:
                raise CommandError(
                    "cannot wipe the catalog: quotes or policies still refer to product versions"
                ) from exc
            self.stdout.write("Catalog wiped.")
        elif catalog_has_data():
            self.stdout.write("The catalog already has data: nothing loaded (use --reset to replace it).")
            return
        if options["products"] < 14:
            raise CommandError("--products must be at least 14 (one per line of business)")
        market = generate_market(options["seed"], options["products"])
        generated = time.monotonic() - started
        report = load_market(market, actor="load_demo")
        total = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {report.insurers} insurers, {report.products} products, {report.plans} plans, "
                f"{report.coverages} coverages, {report.documents} documents "
                f"(seed {market.seed}) in {total:.1f} s "
                f"(generate {generated:.1f} s, write {report.seconds:.1f} s)."
            )
        )
