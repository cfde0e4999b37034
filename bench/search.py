"""Search benchmark: GET /api/v1/products?q=<query> over the demo catalog (target p99 ≤ 50 ms)."""

from __future__ import annotations

import argparse
import random
import urllib.parse
import urllib.request
from typing import Any

from bench import harness

P99_TARGET_MS = 50
QUERIES = [
    "意外险",
    "旅行",
    "境外旅游",
    "重疾",
    "医疗险",
    "百万医疗",
    "定期寿险",
    "少儿",
    "老人",
    "车险",
    "交强险",
    "退货运费",
    "手机碎屏",
    "宠物",
    "航班延误",
    "账户安全",
    "家财险",
    "年金",
    "平安",
    "众安",
    "高端医疗",
    "防癌",
    "骑行意外",
    "欧洲 申根",
]


def run(args: argparse.Namespace) -> dict[str, Any]:
    db_url = harness.prepare(args.db, products=args.products)
    # Each query alone, then with an age filter and a sort: ~2,900 distinct requests, more than the
    # per-process result cache (512), so most answers are computed, not remembered.
    paths = [f"/api/v1/products?q={urllib.parse.quote(q)}" for q in QUERIES]
    rng = random.Random(20261122)
    combos = [
        f"/api/v1/products?q={urllib.parse.quote(q)}&age={age}&sort={sort}"
        for q in QUERIES
        for age in range(18, 66, 2)
        for sort in ("relevance", "sales", "rating", "price_asc", "price_desc")
    ]
    rng.shuffle(combos)
    paths += combos
    seconds = args.duration or (5 if args.quick else 20)
    # Search is CPU-bound in the process (one freshness query a second): one thread per worker
    # avoids queueing behind the GIL.
    with harness.server(db_url, threads=1) as srv:
        with urllib.request.urlopen(srv.url + paths[0], timeout=10) as response:  # the endpoint must exist
            if response.status != 200:
                raise SystemExit(f"GET {paths[0]} answered {response.status}")
        harness.load(srv.url, method="GET", path="", items=paths, seconds=2, connections=4)
        result = harness.load(
            srv.url, method="GET", path="", items=paths, seconds=seconds, connections=args.connections
        )
    figures = {f"http_{k}": v for k, v in result.as_dict().items()}
    figures["queries"] = len(QUERIES)
    figures["distinct_requests"] = len(paths)
    targets = {
        "http_p99_ms": harness.target(result.p99_ms, "<=", P99_TARGET_MS),
        "http_errors": harness.target(result.errors, "<=", 0),
    }
    return {"figures": figures, "targets": targets}
