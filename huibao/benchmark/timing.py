"""`Server-Timing` on every response in bench mode: in-process time, SQL statements, lock holds.

`ServerTimingMiddleware` sits first in `MIDDLEWARE` (added by the settings only in bench mode), so
what it measures is everything Django does for the request — session, user, CSRF, the view, the
answer — and nothing of the HTTP server's own work. Its header reads

    Server-Timing: app;dur=12.345, cpu;dur=9.876, pcpu;dur=10.012, sql;dur=3.210;desc="9",
                   lock.policy_policynumbersequence;dur=4.1;desc="0.2"

`app` is the request's in-process milliseconds (wall clock); `cpu` the CPU time its thread used
meanwhile (what the request costs, whatever else the machine runs: `app` includes the waits for
a core); `pcpu` the CPU time of the whole server process meanwhile (`time.process_time()`: the
request's thread and whatever else the process did for it — the HTTP server's own threads, the
garbage collector's work on any thread; with one request at a time in the process, as in the
bench's serial phase, that is the request's whole in-process cost); `sql` the milliseconds
spent waiting for SQL statements (each round trip, the database's own work included) and, as
its description, how many statements were sent (an `executemany` is one; BEGIN and COMMIT are
driver calls, not statements, and are not counted — savepoints are). Each `lock.<table>` is a
row lock taken with `SELECT … FOR UPDATE` or `UPDATE … RETURNING` (PostgreSQL: SQLite has no
row locks): its duration is the time from holding the lock to the end of the commit that
released it (measured by the first of Django's `on_commit` callbacks, so what the others do
after the commit is not counted), and its description the milliseconds the statement waited
for the lock and ran.

With `HUIBAO_BENCH_PROFILE_DIR` set, a request sent with `X-Bench-Profile: <step>` is profiled
with cProfile and its statistics written to `<dir>/<step>.<pid>.<n>.prof` for the bench to merge,
beside the text of its SQL statements (`….sql.json`).
"""

from __future__ import annotations

import cProfile
import itertools
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.http import HttpRequest, HttpResponse

PROFILE_HEADER = "X-Bench-Profile"
_LOCKED_TABLE = re.compile(r'\bFROM\s+"?(\w+)"?', re.IGNORECASE)
# An `UPDATE … RETURNING` (a counter taken in one statement) locks the rows it updates.
_UPDATED_TABLE = re.compile(r'\s*UPDATE\s+"?(\w+)"?', re.IGNORECASE)
_INNERMOST_PARENS = re.compile(r"\([^()]*\)")


def outer_statement(sql: str) -> str:
    """`sql` without what is inside parentheses (subqueries in the select list, `IN (…)`): the
    statement's own table is then its first `FROM`."""
    while True:
        stripped = _INNERMOST_PARENS.sub("", sql)
        if stripped == sql:
            return sql
        sql = stripped


_STEP_NAME = re.compile(r"[^a-z0-9_-]")
_METRIC = re.compile(r'\s*([\w.-]+)((?:\s*;\s*\w+\s*=\s*(?:"[^"]*"|[^,;]*))*)\s*(?:,|$)')
_PARAM = re.compile(r'\s*;\s*(\w+)\s*=\s*("[^"]*"|[^,;]*)')
_counter = itertools.count(1)


@dataclass
class Meter:
    """Counts and times the SQL statements of one request (a `connection.execute_wrapper`)."""

    statements: int = 0
    sql_seconds: float = 0.0
    # table → [seconds held until commit, seconds the locking statement took]
    locks: dict[str, list[float]] = field(default_factory=dict)
    # The statements' text, kept only for a profiled request (None otherwise).
    sql: list[str] | None = None

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            now = time.perf_counter()
            self.statements += 1
            self.sql_seconds += now - started
            if self.sql is not None:
                self.sql.append(sql)
            upper = sql.upper()
            if "FOR UPDATE" in upper or (upper.lstrip().startswith("UPDATE") and "RETURNING" in upper):
                self._lock_taken(sql, now, now - started, context["connection"].alias)

    def _lock_taken(self, sql: str, at: float, took: float, alias: str) -> None:
        statement = outer_statement(sql)
        match = _UPDATED_TABLE.match(statement) or _LOCKED_TABLE.search(statement)
        table = match.group(1) if match else "unknown"
        held = self.locks.setdefault(table, [0.0, 0.0])
        held[1] += took

        def released() -> None:
            held[0] += time.perf_counter() - at

        conn = connections[alias]
        if conn.in_atomic_block:
            # First of the callbacks, as `on_commit` would queue it (dropped with its savepoint
            # if that rolls back): the work the others do after the commit is not lock time.
            hooks: list[Any] = conn.run_on_commit  # Django's (savepoint ids, callback, robust)
            hooks.insert(0, (set(conn.savepoint_ids), released, False))
        else:
            transaction.on_commit(released, using=alias)

    def header(self, app_seconds: float, cpu_seconds: float = 0.0, process_cpu_seconds: float = 0.0) -> str:
        parts = [
            f"app;dur={app_seconds * 1000:.3f}",
            f"cpu;dur={cpu_seconds * 1000:.3f}",
            f"pcpu;dur={process_cpu_seconds * 1000:.3f}",
            f'sql;dur={self.sql_seconds * 1000:.3f};desc="{self.statements}"',
        ]
        for table, (held, took) in sorted(self.locks.items()):
            parts.append(f'lock.{table};dur={held * 1000:.3f};desc="{took * 1000:.3f}"')
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Timing:
    """One response's `Server-Timing`, read back (`parse_header`)."""

    app_ms: float
    sql_ms: float
    statements: int
    # table → (ms held until commit, ms the locking statement took)
    locks: dict[str, tuple[float, float]]
    cpu_ms: float = 0.0
    process_cpu_ms: float = 0.0


def parse_header(value: str) -> Timing | None:
    """The figures of a `Server-Timing` header written by `ServerTimingMiddleware`; None without
    its `app` metric (a response that did not go through it)."""
    metrics: dict[str, dict[str, str]] = {}
    for match in _METRIC.finditer(value or ""):
        if not match.group(1):
            continue
        metrics[match.group(1)] = {k: v.strip().strip('"') for k, v in _PARAM.findall(match.group(2))}
    if "app" not in metrics:
        return None
    sql = metrics.get("sql", {})
    locks = {
        name.removeprefix("lock."): (float(p.get("dur", 0) or 0), float(p.get("desc", 0) or 0))
        for name, p in metrics.items()
        if name.startswith("lock.")
    }
    return Timing(
        app_ms=float(metrics["app"].get("dur", 0) or 0),
        sql_ms=float(sql.get("dur", 0) or 0),
        statements=int(sql.get("desc", 0) or 0),
        locks=locks,
        cpu_ms=float(metrics.get("cpu", {}).get("dur", 0) or 0),
        process_cpu_ms=float(metrics.get("pcpu", {}).get("dur", 0) or 0),
    )


class ServerTimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        directory = getattr(settings, "HUIBAO_BENCH_PROFILE_DIR", "")
        self.profile_dir = Path(directory) if directory else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = request.headers.get(PROFILE_HEADER, "") if self.profile_dir else ""
        meter = Meter(sql=[] if step else None)
        profiler = cProfile.Profile() if step else None
        started, cpu_started, process_started = time.perf_counter(), time.thread_time(), time.process_time()
        with connection.execute_wrapper(meter):
            if profiler is not None:
                profiler.enable()
            try:
                response = self.get_response(request)
            finally:
                if profiler is not None:
                    profiler.disable()
        response["Server-Timing"] = meter.header(
            time.perf_counter() - started,
            time.thread_time() - cpu_started,
            time.process_time() - process_started,
        )
        if profiler is not None and self.profile_dir is not None:
            name = _STEP_NAME.sub("_", step.lower())[:40] or "request"
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            stem = self.profile_dir / f"{name}.{os.getpid()}.{next(_counter)}"
            profiler.dump_stats(stem.with_name(stem.name + ".prof"))
            stem.with_name(stem.name + ".sql.json").write_text(json.dumps(meter.sql), encoding="utf-8")
        return response
