"""The demo market: `generate_market` (pure, seeded) and `load_market` (bulk writes)."""

from huibao.catalog.demo.generator import DEFAULT_PRODUCTS, DEFAULT_SEED, Market, generate_market, line_counts
from huibao.catalog.demo.loader import LoadReport, catalog_has_data, load_market, wipe_catalog

__all__ = [
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "LoadReport",
    "Market",
    "catalog_has_data",
    "generate_market",
    "line_counts",
    "load_market",
    "wipe_catalog",
]
