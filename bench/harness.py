"""Benchmark plumbing: a database per backend, data loaded once, a real server, a load driver.

The server is granian (WSGI, 2 workers) on a free 127.0.0.1 port with DEBUG off and
`HUIBAO_ENV=bench`. Load comes from `wrk` (with a Lua script for POST bodies and `--latency`);
a threaded `http.client` driver is used only when wrk is missing.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# BENCH_PG_DB names another bench database, so two checkouts benchmarking at once do not collide.
PG_BENCH_DB = os.environ.get("BENCH_PG_DB", "huibao_bench")
PG_BENCH_URL = f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
PYTHON = sys.executable
# Python threads per granian worker. SQLite: one — a second thread only waits on the file's write
# lock (measured on 2 cores: 1,210 req/s p99 31 ms with 1 thread, 624 req/s p99 144 ms with 4).
# PostgreSQL: four, so a worker computes while other requests wait on the network and the commit
# (880 req/s p99 31 ms with 4 threads, 484 req/s p99 64 ms with 1).
BLOCKING_THREADS = {"sqlite": 1, "postgres": 4}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def database_url(db: str) -> str:
    if db == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{VAR / 'bench.sqlite3'}"
    _ensure_postgres_database()
    return PG_BENCH_URL


def _ensure_postgres_database() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_BENCH_DB]).fetchone()
        if not exists:
            log(f"creating database {PG_BENCH_DB}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_BENCH_DB)))


def fresh_database(db: str, name: str) -> str:
    """The URL of an empty database `name` made for one bench run: var/bench/NAME.sqlite3 removed,
    or the PostgreSQL database dropped (connections forced off) and created again."""
    if db == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / f"{name}.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def child_result(module: str, db_url: str, *args: str) -> dict[str, Any]:
    """Runs `python -m MODULE ARGS` against `db_url` in a fresh process; its last line of output,
    one JSON object, is the result."""
    out = subprocess.run(
        [PYTHON, "-m", module, *args],
        env=child_env(db_url),
        cwd=ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def child_env(db_url: str) -> dict[str, str]:
    """The environment of every child: fixed keys so `bench` runs are reproducible."""
    env = dict(os.environ)
    key = base64.b64encode(b"b" * 32).decode()
    env.update(
        {
            "DATABASE_URL": db_url,
            "HUIBAO_ENV": "bench",
            "DEBUG": "0",
            # DEBUG off: the sandboxes the bench drives must be named to be allowed.
            "HUIBAO_ALLOW_SANDBOX": "payment,payout,identity,face,insurer,sms",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "HUIBAO_DATA_KEYS": f"bench:{key}",
            "HUIBAO_LOOKUP_KEY": base64.b64encode(b"l" * 32).decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "0",
            "DB_CONN_MAX_AGE": "600",
            "DJANGO_SETTINGS_MODULE": "huibao.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.pop("HUIBAO_TESTING", None)
    return env


def manage(db_url: str, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=child_env(db_url),
        cwd=ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else sys.stderr,
    )
    return result.stdout if capture else ""


def prepare(db: str, *, products: int = 0) -> str:
    """Migrates the bench database and loads the catalog once; returns its URL."""
    url = database_url(db)
    log(f"migrating {db}")
    manage(url, "migrate", "--noinput", "-v", "0")
    subprocess.run(
        [
            PYTHON,
            "-m",
            "bench.seed",
            "load",
            "--products",
            str(products),
            "--marker",
            str(VAR / f"{db}.source"),
        ],
        env=child_env(url),
        cwd=ROOT,
        check=True,
        stdout=sys.stderr,
    )
    return url


def sample_quotes(db_url: str, count: int) -> list[dict[str, Any]]:
    """Valid quote request bodies for products on sale, computed by the engine itself."""
    out = subprocess.run(
        [PYTHON, "-m", "bench.seed", "sample", "--count", str(count)],
        env=child_env(db_url),
        cwd=ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def server(
    db_url: str, *, workers: int = 2, threads: int | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Starts granian on a free port, waits until it answers, stops it afterwards."""
    port = free_port()
    backend = "sqlite" if db_url.startswith("sqlite") else "postgres"
    granian = str(Path(PYTHON).with_name("granian"))
    cmd = [
        granian,
        "--interface",
        "wsgi",
        "--workers",
        os.environ.get("BENCH_WORKERS", str(workers)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-ws",
        "--blocking-threads",
        os.environ.get("BENCH_BLOCKING_THREADS", str(threads or BLOCKING_THREADS[backend])),
        "--log-level",
        "warning",
        "huibao.wsgi:application",
    ]
    env = {**child_env(db_url), **(extra_env or {})}
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        # The first answer of /api/openapi.json builds the whole document (≈ 10–20 s on a loaded
        # machine): wait up to BENCH_SERVER_START_SECONDS.
        wait = float(os.environ.get("BENCH_SERVER_START_SECONDS", "120"))
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"granian exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=wait) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"granian did not answer within {wait:g} s")
            time.sleep(0.2)
        log(f"server up at {url} (pid {process.pid})")
        yield Server(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def audit_sealer(db_url: str, *, interval: float = 0.2) -> Iterator[subprocess.Popen[bytes]]:
    """The audit chain's sealer (`manage.py seal_audit --loop`), as it runs beside production servers."""
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), "seal_audit", "--loop", str(interval)],
        env=child_env(db_url),
        cwd=ROOT,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redis_env() -> dict[str, str]:
    """`REDIS_URL` when the local Redis answers (production runs with one: cached sessions)."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    host, _, port = url.split("//", 1)[1].split("/", 1)[0].partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            if conn.recv(16).startswith(b"+PONG"):
                return {"REDIS_URL": url}
    except OSError:
        pass
    log("Redis does not answer: sessions are read from the database only")
    return {}


# --- load driver ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    driver: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
            "driver": self.driver,
            **self.detail,
        }


_LUA = """
local items = {}
for line in io.lines(os.getenv("BENCH_ITEMS")) do items[#items + 1] = line end
local method = os.getenv("BENCH_METHOD")
wrk.method = method
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
  i = i % #items + 1
  if method == "POST" then
    return wrk.format(nil, os.getenv("BENCH_PATH"), nil, items[i])
  end
  return wrk.format(nil, items[i], nil, nil)
end
"""


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk duration {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> LoadResult:
    requests = int(re.search(r"(\d+) requests in ([\d.]+\w+)", output).group(1))  # type: ignore[union-attr]
    seconds = _ms(re.search(r"\d+ requests in ([\d.]+\w+)", output).group(1)) / 1000  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(x) for x in sockets.groups()) if sockets else 0
    errors = (int(non2xx.group(1)) if non2xx else 0) + socket_errors
    return LoadResult(requests, seconds, rps, p50, p99, errors, "wrk", {"socket_errors": socket_errors})


def load(
    base_url: str,
    *,
    method: str,
    path: str,
    items: Sequence[str],
    seconds: float,
    connections: int = 16,
    threads: int = 2,
) -> LoadResult:
    """Runs load against `base_url`: POST each item as a body to `path`, or GET each item as a path."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return _python_load(
            base_url, method=method, path=path, items=items, seconds=seconds, connections=connections
        )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(_LUA)
        data = Path(tmp) / "items.txt"
        data.write_text("\n".join(items) + "\n", encoding="utf-8")
        env = dict(os.environ, BENCH_ITEMS=str(data), BENCH_METHOD=method, BENCH_PATH=path)
        cmd = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
        ]
        out = subprocess.run([*cmd, base_url], env=env, check=True, text=True, capture_output=True).stdout
    log(out.strip())
    return parse_wrk(out)


def _python_load(
    base_url: str, *, method: str, path: str, items: Sequence[str], seconds: float, connections: int
) -> LoadResult:
    host, port = base_url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        i = offset
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            item = items[i % len(items)]
            i += 1
            started = time.perf_counter()
            try:
                if method == "POST":
                    conn.request(
                        "POST", path, body=item.encode(), headers={"Content-Type": "application/json"}
                    )
                else:
                    conn.request("GET", item)
                response = conn.getresponse()
                response.read()
                if not 200 <= response.status < 400:
                    bad += 1
            except OSError:
                bad += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    began = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    n = len(latencies)
    return LoadResult(
        n,
        elapsed,
        n / elapsed,
        latencies[n // 2] if n else 0.0,
        latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
        errors[0],
        "python",
    )


def target(value: float, op: str, limit: float) -> dict[str, Any]:
    met = value >= limit if op == ">=" else value <= limit
    return {"value": round(value, 2), "target": f"{op} {limit:g}", "met": bool(met)}


# --- memory of a measuring child -------------------------------------------------------------------


def rss_mb() -> float:
    """The process's resident memory now, in MB (read from Linux's /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """The process's peak resident memory so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_figures(base: float) -> dict[str, float]:
    """A measurement's memory: `base` (the RSS before it), the peak and the peak over the base."""
    peak = peak_mb()
    return {"base_mb": round(base, 1), "peak_mb": round(peak, 1), "peak_mb_over_base": round(peak - base, 1)}


def memory_flat(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """The memory target of a two-size bench: the large run's peak over its base stays within
    1.5 times the small one's plus 32 MB (memory does not grow with the size)."""
    limit = 1.5 * small["peak_mb_over_base"] + 32
    return target(large["peak_mb_over_base"], "<=", round(limit, 1))
