"""Where a step's server time goes: the cProfile statistics the bench-mode server wrote for the
requests sent with `X-Bench-Profile: <step>` (`huibao.benchmark.timing`), merged per step."""

from __future__ import annotations

import json
import pstats
import re
from collections import Counter
from pathlib import Path
from typing import Any

from huibao.benchmark.timing import outer_statement

# (what a reader calls it, test on the function's file name and function name)
AREAS: list[tuple[str, Any]] = [
    (
        "SQL round trips (psycopg, waiting on the database)",
        lambda f, n: "/psycopg" in f or _socket_wait(f, n),
    ),
    ("SQLite (driver)", lambda f, n: "sqlite3" in f or "sqlite3" in n),
    ("Django ORM (building queries, making model instances)", lambda f, n: "/django/db/" in f),
    ("ninja + pydantic (parsing, validating, serialising)", lambda f, n: "/ninja/" in f or "/pydantic" in f),
    ("sessions, auth, CSRF, middleware", lambda f, n: "/django/contrib/" in f or "/django/middleware/" in f),
    ("Django (requests, URLs, i18n, other)", lambda f, n: "/django/" in f),
    ("crypto (AES-GCM, HMAC, hashes)", lambda f, n: "/cryptography/" in f or "hash" in n or "hmac" in f),
    ("JSON", lambda f, n: "/json/" in f or "json" in n),
    ("Huibao code", lambda f, n: "/huibao/" in f),
]


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """`SELECT application_application (FOR UPDATE)`, `INSERT core_auditentry`, `SAVEPOINT`…"""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    match = _TABLE.search(outer_statement(sql))
    kind = f"{verb} {match.group(1)}" if match else verb
    return kind + (" (FOR UPDATE)" if "FOR UPDATE" in sql.upper() else "")


def _socket_wait(filename: str, name: str) -> bool:
    return filename == "~" and any(w in name for w in ("poll", "select", "recv", "send", "wait"))


def area_of(filename: str, name: str) -> str:
    for label, test in AREAS:
        if test(filename, name):
            return str(label)
    return "other (Python, the standard library)"


def _short(filename: str, line: int, name: str) -> str:
    if "/huibao/" in filename:
        filename = "huibao/" + filename.split("/huibao/", 1)[1]
    elif "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    return f"{filename}:{line}({name})"


def summarise_step(files: list[Path], *, top: int = 12) -> dict[str, Any]:
    """Own time per area and the Huibao functions with the most cumulative time, per request."""
    stats = pstats.Stats(*(str(f) for f in files))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    n = len(files)
    areas: dict[str, float] = {}
    total = 0.0
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        areas[area_of(filename, name)] = areas.get(area_of(filename, name), 0.0) + tottime
        total += tottime
    ours = sorted(
        ((key, value) for key, value in raw.items() if "/huibao/" in key[0] and "/benchmark/" not in key[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:top]
    kinds: Counter[str] = Counter()
    for f in files:
        sql_file = f.with_name(f.name.removesuffix(".prof") + ".sql.json")
        if sql_file.exists():
            kinds.update(statement_kind(sql) for sql in json.loads(sql_file.read_text(encoding="utf-8")))
    return {
        "profiled_requests": n,
        "statements_per_request_by_kind": {k: round(c / n, 1) for k, c in kinds.most_common()},
        "profiled_ms_per_request": round(total * 1000 / n, 1),
        "own_time_by_area_pct": {
            label: round(100 * seconds / total, 1)
            for label, seconds in sorted(areas.items(), key=lambda kv: kv[1], reverse=True)
            if total
        },
        "huibao_functions_by_cumulative_ms": [
            {
                "function": _short(*key),
                "calls": round(value[1] / n, 1),
                "cumulative_ms": round(value[3] * 1000 / n, 2),
            }
            for key, value in ours
        ],
    }


def summarise(directory: Path, steps: dict[str, Any], *, flows: int, top: int = 3) -> dict[str, Any]:
    """The `top` steps that cost the most server CPU per flow (`steps`: the serial phase's
    per-step medians), each with its figures and its profile; then, for every step, its
    statements by kind."""
    # Ranked by CPU, which a machine shared with other work changes far less than wall time.
    per_flow = {
        name: s.get("cpu_ms", s["server_ms"]) * s["n"] / max(flows, 1)
        for name, s in steps.items()
        if name != "floor"
    }
    out: dict[str, Any] = {}
    for name in sorted(per_flow, key=lambda k: per_flow[k], reverse=True)[:top]:
        files = sorted(directory.glob(f"{name}.*.prof"))
        entry = {
            "server_ms_per_request": steps[name]["server_ms"],
            "statements_per_request": steps[name]["statements"],
            "requests_per_flow": round(steps[name]["n"] / max(flows, 1), 1),
            "cpu_ms_per_request": steps[name].get("cpu_ms", 0.0),
            "cpu_ms_per_flow": round(per_flow[name], 1),
        }
        if files:
            entry.update(summarise_step(files))
        out[name] = entry
    out["statements_by_step"] = {
        name: summarise_step(files, top=0)["statements_per_request_by_kind"]
        for name in steps
        if (files := sorted(directory.glob(f"{name}.*.prof")))
    }
    return out
