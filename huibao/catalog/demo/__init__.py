"""The demo market: `generate_market` (pure, seeded) and `load_market` (bulk writes)."""

from huibao.catalog.demo.generator import (
    AUTO_BUNDLE_CODES,
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    SIMPLE_ACCIDENT_CODE,
    Market,
    demo_auto_bundle_codes,
    generate_market,
    line_counts,
    simple_accident_product_code,
)
from huibao.catalog.demo.loader import LoadReport, catalog_has_data, load_market, wipe_catalog

__all__ = [
    "AUTO_BUNDLE_CODES",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "SIMPLE_ACCIDENT_CODE",
    "LoadReport",
    "Market",
    "catalog_has_data",
    "demo_auto_bundle_codes",
    "generate_market",
    "line_counts",
    "load_market",
    "simple_accident_product_code",
    "wipe_catalog",
]
