"""Quote to issued policy over HTTP: many logged-in customers buying the demo's simplest accident
product at once through `/api/v1`, paying on the sandbox gateway.

Each simulated customer (asyncio + httpx, one session cookie each) does: quote → application →
data → identity → confirm → open the document → wait its `min_read_seconds` (the wait overlaps
with the other customers' work) → read (answered with the first key clause, shown) → confirm each
key clause once shown for its own reading time (answered with the next one, shown) → sign (by
confirmation) → pay: 14 requests (data, identity and signing asked with `?state=none`: the client
shows no state after them). The sandbox
gateway — in this process, as the remote gateway would be — then takes the payer's card
(`sandbox.submit_payment`) and delivers its signed notification over HTTP to
`/payment/notify/sandbox/`, whose paid hook issues the policy; a last GET checks it is issued.

The server is granian (harness.server); beside it runs the audit chain's sealer
(`manage.py seal_audit --loop 0.2`), as in production, and on PostgreSQL the server gets the local
Redis as its cache (sessions are then `cached_db`). Background tasks (application-form and
e-policy PDFs, insurer delivery) are only queued, no worker runs: the figure is the interactive path.

The floor, measured in the same run against the same server processes (bench mode,
`HUIBAO_BENCH_FLOOR=1`): the same customers send as many requests per flow as the real flow
makes, with the same session and CSRF token, each doing the least any recorded step must do —
one locked read of the customer's row, one audit entry, one small update, a small JSON answer
(`huibao.benchmark`). The floor does not wait for a reading minimum: it measures what the server
can carry. Nor, by default, does the real flow: it buys the bench's own copies of the simplest
product (`--insurers N`, default 4: one per insurer, the customers spread over them), whose document
and key clauses have no reading minimum — so both sides keep the server saturated and the ratio of
their flows/s is a ratio of server capacity (with the demo's reading times a flow waits ≥ 12 s and
48 customers cannot keep two cores busy). One product per insurer: each insurer has its own
policy-number row, so issuance is not serialised on one row. `--insurers 0` buys the demo's product
as it is, reading times included.

One run, one server, one sealer: serial flows first (one customer, nothing else running: server
milliseconds and SQL statements per flow and per step, from each answer's `Server-Timing`), then
each side under load for the same time (flows/s, and the same figures under load). On
PostgreSQL, for each phase, the database's own cost per flow: CPU of the server processes serving
the platform (the gateway's connections excluded), `active_time` of `pg_stat_database`, commits.
The policy-number lock's hold time comes from the notification answers (`lock.…` in
`Server-Timing`). `--profile` adds serial flows profiled with cProfile in the server, and prints
the three most expensive steps with where their time goes.

Targets (PostgreSQL): the real flow reaches ≥ 60 % of the floor's flows/s, ≤ 90 SQL statements
and ≤ 80 ms of in-process server time per flow (serial: as wall time, and as the server
process's CPU — `pcpu` of `Server-Timing`, summed per flow, the median over the serial flows —
which a busy machine does not inflate by its waits). Printed: both sides' figures, their ratio,
the targets and which are met. With `BENCH_PG_STATEMENT_LOG` naming PostgreSQL's log file (read
here), the app server's connections log their statements' durations and each phase reports
PostgreSQL's own time per flow.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench import harness, profile
from huibao.benchmark.timing import PROFILE_HEADER, Timing, parse_header

TARGET_FLOOR_RATIO = 0.60
TARGET_STATEMENTS_PER_FLOW = 90
TARGET_SERVER_MS_PER_FLOW = 80
REQUESTS_PER_FLOW = 14  # the real flow for the demo's simplest product; checked in the serial phase
BENCH_MODE = {"HUIBAO_BENCH_FLOOR": "1", "HUIBAO_ALLOW_BENCH_FLOOR": "1"}
GATEWAY_APP_NAME = "bench-gateway"
# Set while profiled flows run: the gateway's notification is then profiled too.
PROFILE_NOTIFY = threading.Event()
NAMES = ["王小明", "李晓红", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏"]
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- seed (child process with Django) --------------------------------------------------------------


BENCH_PRODUCT_PREFIX = "bench-flow-"


def _bench_products(source_code: str, insurers: int) -> list[str]:
    """Copies of the demo's simplest product for this bench only, one per insurer (the source's
    insurer first, then other insurers selling accident products), with no reading minimum on the
    document or its key clauses: the customers then wait for nothing but the server, and flows/s
    measures the server's capacity. Each insurer has its own policy-number row, so issuance is not
    serialised on one insurer's numbers (the consumer flow's numbers stay gapless: no block
    reservation). Made once per bench database; the same content otherwise, so the same steps and
    statements as the demo's product."""
    from django.db import transaction

    from huibao.catalog import io
    from huibao.catalog import services as catalog
    from huibao.catalog.models import Insurer, Product, ProductStatus

    source = Product.objects.select_related("insurer").get(code=source_code)
    others = list(
        Insurer.objects.filter(products__line=source.line, products__status=ProductStatus.ON_SALE)
        .exclude(pk=source.insurer_id)
        .distinct()
        .order_by("code")
        .values_list("code", flat=True)
    )
    chosen = [source.insurer.code, *others][: max(insurers, 1)]
    document = io.export_product(source)
    codes = []
    for insurer in chosen:
        code = f"{BENCH_PRODUCT_PREFIX}{insurer}"[:48]
        codes.append(code)
        if Product.objects.filter(code=code, status=ProductStatus.ON_SALE).exists():
            continue
        data = json.loads(json.dumps(document))
        data["product"]["code"] = code
        data["product"]["insurer"] = insurer
        for doc in data["documents"]:
            doc["min_read_seconds"] = 0
            for clause in doc["key_clauses"]:
                clause["min_read_seconds"] = 0
        with transaction.atomic():
            version = catalog.import_product(data)
            catalog.publish_version(version)
    return codes


def _seed(count: int, insurers: int = 0) -> None:
    """Prints one JSON line per product (code, plan, quote inputs), then one per customer session
    (with the customer's floor row and product index). With `insurers`, the products are the
    bench's own copies of the simplest product without reading minimums (`_bench_products`), the
    customers spread over them; without, the demo's product as it is."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from huibao.account.models import User, UserKind
    from huibao.benchmark.models import FloorRow
    from huibao.catalog.models import Product, ProductStatus
    from huibao.rating import rules, services
    from huibao.sandbox.models import SandboxCitizen

    # The sandbox registry of this bench database starts empty each run: an ID number drawn again
    # is then always checked under the name derived from it (see Flow.run).
    SandboxCitizen.objects.all().delete()
    code = _simple_product_code()
    codes = _bench_products(code, insurers) if insurers else [code]
    for code in codes:
        product = Product.objects.get(code=code, status=ProductStatus.ON_SALE)
        assert product.current_version_id is not None
        rating = services.get_rating_product(product.current_version_id)
        plan = next((p for p in rating.plans if p.code == "basic"), rating.plans[0])
        inputs = rules.fill_profile(rating, plan, {"age": 35, "sex": "M"})
        result = rules.price(rating, plan.code, inputs)
        print(
            json.dumps(
                {"product": {"product_code": code, "plan_code": plan.code, "inputs": result.inputs}},
                ensure_ascii=False,
            )
        )
    existing = {u.username: u for u in User.objects.filter(username__startswith="bench-issue-")}
    rows = {r.owner_id: r for r in FloorRow.objects.filter(owner__username__startswith="bench-issue-")}
    for i in range(count):
        username = f"bench-issue-{i:05d}"
        user = existing.get(username)
        if user is None:
            user = User(username=username, kind=UserKind.CUSTOMER)
            user.set_phone(f"139{i:08d}")
            user.set_unusable_password()
            user.save()
        row = rows.get(user.pk) or FloorRow.objects.create(owner=user)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = SESSION_BACKEND
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        print(
            json.dumps(
                {
                    "session": session.session_key,
                    "name": NAMES[i % len(NAMES)],
                    "floor_row": str(row.public_id),
                    "product_index": i % len(codes),
                },
                ensure_ascii=False,
            )
        )
    print(f"[bench] {count} customers logged in; products {', '.join(codes)}", file=sys.stderr)


def _simple_product_code() -> str:
    """The demo's simplest accident product; the loader puts it in every demo market."""
    from huibao.catalog.demo import generator

    code = getattr(generator, "SIMPLE_ACCIDENT_CODE", "")
    if not code:
        raise SystemExit("huibao.catalog.demo has no SIMPLE_ACCIDENT_CODE: load the demo market first")
    return str(code)


def seed(db_url: str, count: int, insurers: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The quote bodies (one per product) and the customers (each with its product's index)."""
    out = subprocess.run(
        [harness.PYTHON, "-m", "bench.issue", "--seed", str(count), "--insurers", str(insurers)],
        env=harness.child_env(db_url),
        cwd=harness.ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r["product"] for r in rows if "product" in r], [r for r in rows if "session" in r]


# --- the gateway (this process, with Django) --------------------------------------------------------

Pay = Callable[[str, str, str], tuple[bool, list[Timing]]]


def _setup_gateway(db_url: str, server_url: str) -> Pay:
    """Django in this process for the sandbox gateway's side; its deliveries go to `server_url`.
    `pay` answers whether the platform acknowledged, with the `Server-Timing` of its answers."""
    os.environ.update(harness.child_env(db_url))
    # The gateway's own delivery task would be queued in the database: it delivers at once instead.
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"
    # Named, so that the database's cost per flow leaves out the gateway's (a remote system's) work.
    os.environ["PGAPPNAME"] = GATEWAY_APP_NAME
    import django

    django.setup()
    import httpx

    from huibao.sandbox import notifications
    from huibao.sandbox import payment as sandbox

    client = httpx.Client(timeout=30.0)
    answers = threading.local()

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        if PROFILE_NOTIFY.is_set():
            headers = {**headers, PROFILE_HEADER: "notify"}
        response = client.post(server_url + urlparse(url).path, content=body, headers=headers)
        timing = parse_header(response.headers.get("server-timing", ""))
        if timing is not None:
            answers.timings.append(timing)
        return response.status_code, response.text

    notifications.http_post = post

    def pay(txn_id: str, name: str, id_number: str) -> tuple[bool, list[Timing]]:
        from django.db import connection

        answers.timings = []
        try:
            sandbox.submit_payment(
                txn_id, payer_name=name, id_number=id_number, card_number="4242424242424242", action="pay"
            )
            return sandbox.deliver(txn_id), answers.timings
        finally:
            connection.close()

    return pay


# --- what the server said it spent ------------------------------------------------------------------


@dataclass
class Costs:
    """The `Server-Timing` figures of one phase: per step, per completed flow, per locked table."""

    steps: dict[str, list[Timing]] = field(default_factory=dict)
    answered: list[float] = field(default_factory=list)  # monotonic time of each answer
    # per completed flow: app ms, sql ms, statements, requests, thread cpu ms, process cpu ms
    flows: list[tuple[float, float, int, int, float, float]] = field(default_factory=list)

    def step(self, name: str, timing: Timing | None) -> Timing | None:
        if timing is not None:
            self.steps.setdefault(name, []).append(timing)
        return timing

    def summary(self) -> dict[str, Any]:
        def med(values: list[float]) -> float:
            return round(statistics.median(values), 1) if values else 0.0

        locks: dict[str, list[tuple[float, float]]] = {}
        for timings in self.steps.values():
            for t in timings:
                for table, held in t.locks.items():
                    locks.setdefault(table, []).append(held)
        return {
            "flows": len(self.flows),
            "server_ms_per_flow": med([f[0] for f in self.flows]),
            "server_cpu_ms_per_flow": med([f[4] for f in self.flows]),
            # The server process's CPU (`time.process_time()`) while it served each request of the
            # flow, summed per flow; the median over the phase's flows. Serially (one request at a
            # time in the process) this is the flow's whole in-process cost; under load the
            # process's other requests overlap and it overcounts — read the serial figure.
            "server_process_cpu_ms_per_flow": med([f[5] for f in self.flows]),
            "server_process_cpu_ms_per_flow_range": [
                round(min((f[5] for f in self.flows), default=0.0), 1),
                round(max((f[5] for f in self.flows), default=0.0), 1),
            ],
            "sql_ms_per_flow": med([f[1] for f in self.flows]),
            "statements_per_flow": med([float(f[2]) for f in self.flows]),
            "requests_per_flow": med([float(f[3]) for f in self.flows]),
            "steps": {
                name: {
                    "n": len(ts),
                    "server_ms": med([t.app_ms for t in ts]),
                    "cpu_ms": med([t.cpu_ms for t in ts]),
                    "process_cpu_ms": med([t.process_cpu_ms for t in ts]),
                    "sql_ms": med([t.sql_ms for t in ts]),
                    "statements": med([float(t.statements) for t in ts]),
                }
                for name, ts in self.steps.items()
            },
            "locks": {
                table: {
                    "n": len(values),
                    "held_p50_ms": _pct([v[0] for v in values], 0.5),
                    "held_p99_ms": _pct([v[0] for v in values], 0.99),
                    "wait_p50_ms": _pct([v[1] for v in values], 0.5),
                    "wait_p99_ms": _pct([v[1] for v in values], 0.99),
                }
                for table, values in sorted(locks.items())
            },
        }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2) if ordered else 0.0


@dataclass
class FlowCost:
    app_ms: float = 0.0
    sql_ms: float = 0.0
    statements: int = 0
    requests: int = 0
    cpu_ms: float = 0.0
    process_cpu_ms: float = 0.0

    def add(self, timing: Timing | None) -> None:
        self.requests += 1
        if timing is not None:
            self.app_ms += timing.app_ms
            self.sql_ms += timing.sql_ms
            self.statements += timing.statements
            self.cpu_ms += timing.cpu_ms
            self.process_cpu_ms += timing.process_cpu_ms


# --- one customer ------------------------------------------------------------------------------------


def resident_id(rng: random.Random) -> str:
    from huibao.core.validators import id_check_digit

    today = datetime.date.today()
    birth = today.replace(year=today.year - 36) + datetime.timedelta(days=rng.randint(0, 360))
    # sequence 999 is the identity sandbox's "no record" case
    first17 = f"110105{birth:%Y%m%d}{rng.randint(0, 998):03d}"
    return first17 + id_check_digit(first17)


class Failed(Exception):
    def __init__(self, step: str, status: int, body: str) -> None:
        super().__init__(f"{step}: HTTP {status} {body[:300]}")
        self.step = step


class Flow:
    """The real flow: quote → … → pay, the gateway's notification, the final check."""

    def __init__(
        self,
        client: Any,
        quote_body: dict[str, Any],
        customer: dict[str, Any],
        timings: dict[str, list[float]],
        gateway: Callable[[str, str, str], Awaitable[tuple[bool, list[Timing]]]],
        rng: random.Random,
        costs: Costs,
        *,
        profile: bool = False,
    ) -> None:
        self.client = client
        self.quote_body = quote_body
        self.customer = customer
        self.timings = timings
        self.gateway = gateway
        self.rng = rng
        self.costs = costs
        self.cost = FlowCost()
        self.profile = profile

    async def call(self, step: str, method: str, path: str, body: Any = None) -> Any:
        headers = {PROFILE_HEADER: step} if self.profile else None
        started = time.perf_counter()
        response = await self.client.request(method, path, json=body, headers=headers)
        self.timings.setdefault(step, []).append((time.perf_counter() - started) * 1000)
        self.costs.answered.append(time.monotonic())
        self.cost.add(self.costs.step(step, parse_header(response.headers.get("server-timing", ""))))
        if response.status_code >= 300:
            raise Failed(step, response.status_code, response.text)
        return response.json()

    async def run(self) -> None:
        id_number = resident_id(self.rng)
        # The identity sandbox remembers the name an ID number was first checked with: an ID drawn
        # again (in this run or an earlier one) always comes with the same name.
        name = NAMES[int(id_number[6:17]) % len(NAMES)]
        quote = await self.call("quote", "POST", "/api/v1/quotes", self.quote_body)
        app = await self.call(
            "start", "POST", "/api/v1/applications", {"quote_ids": [quote["id"]], "channel": "app"}
        )
        url = f"/api/v1/applications/{app['id']}"
        data = {
            "applicant": {"name": name, "id_number": id_number, "phone": "13900001111"},
            "insured": [{"relation": "self"}],
            "beneficiary_mode": "legal",
        }
        # The steps whose answer the client does not show ask for no state (`?state=none`).
        await self.call("data", "PUT", f"{url}/data?state=none", data)
        await self.call(
            "identity", "POST", f"{url}/identity?state=none", {"name": name, "id_number": id_number}
        )
        state = await self.call("confirm", "POST", f"{url}/confirm")
        if state["status"] != "accepted":
            raise Failed("confirm", 200, f"underwriting gave {state['status']}")
        documents = state["documents"]
        for doc in documents:
            await self.call("open", "POST", f"{url}/documents/{doc['id']}/open")
        wait = max((d["min_read_seconds"] for d in documents), default=0)
        if wait:
            await asyncio.sleep(wait + 0.05)
        # Reading the document and confirming each key clause answer with the next clause, shown
        # (`show_next=true`): the client never asks for a clause on its own.
        clause = None
        for doc in documents:
            read = await self.call(
                "read", "POST", f"{url}/documents/{doc['id']}/read?show_next=true", {"scrolled_to_end": True}
            )
            clause = read["next_clause"] or clause
        confirmed = 0
        while clause is not None:
            # A key clause with a reading time is confirmed once it was on screen that long (its
            # `seconds_left` when shown); the customer reads it meanwhile (the wait overlaps with
            # the other customers' work, as the document's).
            if clause.get("seconds_left"):
                await asyncio.sleep(clause["seconds_left"] + 0.05)
            path = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
            answer = await self.call("clause_confirm", "POST", f"{path}/confirm?show_next=true")
            clause = answer["next_clause"]
            confirmed += 1
        if confirmed != len(state["clauses"]):
            raise Failed("clause_confirm", 200, f"{confirmed} of {len(state['clauses'])} clauses confirmed")
        await self.call(
            "sign", "POST", f"{url}/signatures?state=none", {"role": "applicant", "confirmed": True}
        )
        payment = await self.call("pay", "POST", f"{url}/payment")
        txn_id = payment["checkout_url"].rstrip("/").rsplit("/", 1)[1]
        started = time.perf_counter()
        acknowledged, answers = await self.gateway(txn_id, name, id_number)
        self.timings.setdefault("gateway_pay_and_notify", []).append((time.perf_counter() - started) * 1000)
        for timing in answers:
            self.cost.add(self.costs.step("notify", timing))
            self.costs.answered.append(time.monotonic())
        if not acknowledged:
            raise Failed("notify", 0, "the platform did not acknowledge the notification")
        final = await self.call("check", "GET", url)
        if final["status"] != "issued" or len(final["policies"]) != 1:
            raise Failed("check", 200, f"status {final['status']}, {len(final['policies'])} policies")


class FloorFlow(Flow):
    """The floor: as many requests as the real flow, each the least a recorded step must do."""

    requests = REQUESTS_PER_FLOW

    async def run(self) -> None:
        path = f"/api/bench/floor/{self.customer['floor_row']}"
        for step in range(self.requests):
            answer = await self.call("floor", "POST", path, {"step": step})
            if answer["step"] != step:
                raise Failed("floor", 200, f"step {answer['step']} answered for {step}")


# --- the run -----------------------------------------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0}
    return {
        "n": n,
        "p50_ms": round(ordered[n // 2], 1),
        "p99_ms": round(ordered[min(n - 1, int(n * 0.99))], 1),
    }


RAMP_SHARE = 0.25


def _steady_rate(done: list[float], began: float, deadline: float, per: float = 1.0) -> float:
    """Events per second between the end of the ramp and the deadline, divided by `per`."""
    start = began + (deadline - began) * RAMP_SHARE
    window = deadline - start
    return round(sum(1 for t in done if start <= t <= deadline) / window / per, 2) if window > 0 else 0.0


async def _drive(
    server_url: str,
    quote_bodies: list[dict[str, Any]],
    customers: list[dict[str, Any]],
    *,
    seconds: float,
    concurrency: int,
    pay: Pay,
    flow_class: type[Flow] = Flow,
    max_flows: int = 0,
    profile: bool = False,
    per_flow: int = REQUESTS_PER_FLOW,
) -> dict[str, Any]:
    """`concurrency` customers each run flows until `seconds` have passed (or, with `max_flows`,
    until that many flows have been started)."""
    import httpx

    timings: dict[str, list[float]] = {}
    costs = Costs()
    flows: list[float] = []
    finished: list[float] = []  # monotonic time each completed flow ended
    errors: dict[str, int] = {}
    samples: list[str] = []
    gateway_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gateway")
    loop = asyncio.get_running_loop()
    started_flows = [0]

    async def gateway(txn_id: str, name: str, id_number: str) -> tuple[bool, list[Timing]]:
        return await loop.run_in_executor(gateway_pool, pay, txn_id, name, id_number)

    began = time.monotonic()
    deadline = began + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def customer_loop(index: int) -> None:
        customer = customers[index % len(customers)]
        csrf = secrets.token_hex(16)
        rng = random.Random(f"{index}-{time.time_ns()}")
        async with httpx.AsyncClient(
            base_url=server_url,
            timeout=60.0,
            limits=limits,
            cookies={"sessionid": customer["session"], "csrftoken": csrf},
            headers={"X-CSRFToken": csrf},
        ) as client:
            while time.monotonic() < deadline and not (max_flows and started_flows[0] >= max_flows):
                started_flows[0] += 1
                started = time.perf_counter()
                flow = flow_class(
                    client,
                    quote_bodies[customer.get("product_index", 0)],
                    customer,
                    timings,
                    gateway,
                    rng,
                    costs,
                    profile=profile,
                )
                try:
                    await flow.run()
                except Failed as exc:
                    errors[exc.step] = errors.get(exc.step, 0) + 1
                    if len(samples) < 5:
                        samples.append(str(exc))
                except httpx.HTTPError as exc:
                    errors["http"] = errors.get("http", 0) + 1
                    if len(samples) < 5:
                        samples.append(repr(exc))
                else:
                    flows.append((time.perf_counter() - started) * 1000)
                    finished.append(time.monotonic())
                    c = flow.cost
                    costs.flows.append(
                        (c.app_ms, c.sql_ms, c.statements, c.requests, c.cpu_ms, c.process_cpu_ms)
                    )

    await asyncio.gather(*(customer_loop(i) for i in range(concurrency)))
    elapsed = time.monotonic() - began
    gateway_pool.shutdown()
    return {
        "seconds": round(elapsed, 2),
        "flows_completed": len(flows),
        "flows_failed": sum(errors.values()),
        # Customers all start at once and finish the flow they are in after the deadline, and under
        # load one real flow can take longer than the run: the rate is the requests answered in the
        # steady part (from RAMP_SHARE of the time to the deadline) over the requests of a flow.
        "flows_per_s": _steady_rate(costs.answered, began, deadline, per_flow)
        if not max_flows
        else round(len(flows) / elapsed, 2),
        "flows_completed_per_s": _steady_rate(finished, began, deadline),
        "flows_per_s_whole_run": round(len(flows) / elapsed, 2) if elapsed else 0.0,
        "requests_per_s": round(
            sum(len(v) for k, v in timings.items() if k != "gateway_pay_and_notify") / elapsed, 1
        ),
        "flow": _percentiles(flows),
        "steps": {step: _percentiles(values) for step, values in timings.items()},
        "server": costs.summary(),
        "errors": errors,
        "error_samples": samples,
    }


# --- the database's side (PostgreSQL) --------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_ms(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / _CLK_TCK


def process_tree_cpu_ms(root: int) -> float:
    """CPU so far of `root` and its descendants (the app server's workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = {root}, [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                todo.append(child)
    return sum(_proc_cpu_ms(pid) for pid in tree)


class DatabaseMeter:
    """What PostgreSQL spent for the platform during a phase, without `pg_stat_statements` (it
    needs `shared_preload_libraries`, i.e. a restart of a server other work shares): the CPU of
    the bench database's backends (the gateway's excluded) read from `/proc` (the server runs
    on this machine), and `pg_stat_database`'s `active_time` (time spent executing statements,
    all backends of the database, the gateway's included) and commits."""

    def __init__(self, db_url: str, server_pid: int, statement_log: str = "") -> None:
        import psycopg

        self.conn = psycopg.connect(db_url, autocommit=True)
        self.server_pid = server_pid
        self.statement_log = statement_log
        self.database = urlparse(db_url).path.lstrip("/")

    def _backend_pids(self) -> list[tuple[int, str]]:
        rows = self.conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [(int(pid), str(name or "")) for pid, name in rows]

    def snapshot(self) -> dict[str, Any]:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        active, commits = self.conn.execute(
            "SELECT active_time, xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone() or (0.0, 0)
        backends = {pid: _proc_cpu_ms(pid) for pid, name in self._backend_pids() if name != GATEWAY_APP_NAME}
        return {
            "active_ms": float(active or 0),
            "commits": int(commits or 0),
            "backends": backends,
            "app_cpu_ms": process_tree_cpu_ms(self.server_pid),
            "log_offset": os.path.getsize(self.statement_log) if self.statement_log else 0,
        }

    def _logged(self, start: int, end: int) -> tuple[float, int]:
        """Milliseconds and statements PostgreSQL logged for the server's connections between two
        offsets of its log (`log_min_duration_statement = 0`, set through `PGOPTIONS` for the app
        server's connections only: the sealer's and the gateway's are not logged)."""
        marker = f"@{self.database} LOG:  duration: "
        total, count = 0.0, 0
        with open(self.statement_log, "rb") as log:
            log.seek(start)
            for raw in log.read(max(end - start, 0)).splitlines():
                line = raw.decode("utf-8", "replace")
                at = line.find(marker)
                if at < 0:
                    continue
                try:
                    total += float(line[at + len(marker) :].split(" ", 1)[0])
                except ValueError:
                    continue
                count += 1
        return total, count

    def between(self, before: dict[str, Any], after: dict[str, Any], flows: int) -> dict[str, Any]:
        cpu = sum(ms - before["backends"].get(pid, 0.0) for pid, ms in after["backends"].items())
        per = max(flows, 1)
        return {
            "db_cpu_ms_per_flow": round(cpu / per, 1),
            "db_active_ms_per_flow": round((after["active_ms"] - before["active_ms"]) / per, 1),
            "commits_per_flow": round((after["commits"] - before["commits"]) / per, 1),
            "app_cpu_ms_per_flow": round((after["app_cpu_ms"] - before["app_cpu_ms"]) / per, 1),
            **self._statement_time(before, after, per),
        }

    def _statement_time(self, before: dict[str, Any], after: dict[str, Any], per: int) -> dict[str, Any]:
        if not self.statement_log:
            return {}
        ms, count = self._logged(before["log_offset"], after["log_offset"])
        # Every statement of the app server's connections, BEGIN and COMMIT included (the COMMIT's
        # WAL flush is its duration): the database's own time per flow, without the round trips.
        return {
            "pg_statement_ms_per_flow": round(ms / per, 1),
            "pg_logged_statements_per_flow": round(count / per, 1),
        }

    def close(self) -> None:
        self.conn.close()


class _NoDatabaseMeter:
    """SQLite: the database is the app server's own work; only the app server's CPU is read."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def snapshot(self) -> dict[str, Any]:
        return {"app_cpu_ms": process_tree_cpu_ms(self.server_pid)}

    def between(self, before: dict[str, Any], after: dict[str, Any], flows: int) -> dict[str, Any]:
        return {"app_cpu_ms_per_flow": round((after["app_cpu_ms"] - before["app_cpu_ms"]) / max(flows, 1), 1)}

    def close(self) -> None:
        pass


def _phase(
    meter: DatabaseMeter | _NoDatabaseMeter, name: str, run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    harness.log(f"phase {name}")
    before = meter.snapshot()
    result = run()
    time.sleep(1.2)  # backends report their statistics at most once a second
    result["resources"] = meter.between(before, meter.snapshot(), result["flows_completed"])
    server = result["server"]
    harness.log(
        f"phase {name}: {result['flows_completed']} flows, {result['flows_per_s']} /s, "
        f"server {server['server_ms_per_flow']} ms (CPU {server['server_cpu_ms_per_flow']}, "
        f"process CPU {server['server_process_cpu_ms_per_flow']}) "
        f"and {server['statements_per_flow']} statements per flow, {result['resources']}"
    )
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    seconds = args.duration or (30.0 if quick else 60.0)
    concurrency = getattr(args, "customers", 0) or (48 if quick else 96)
    serial = getattr(args, "serial_flows", 0) or (5 if quick else 10)
    profiled = (3 if quick else 6) if getattr(args, "profile", False) else 0
    url = harness.prepare(args.db, products=args.products)
    insurers = getattr(args, "insurers", 0)
    quote_bodies, customers = seed(url, concurrency, insurers)
    harness.log(
        f"{len(customers)} customers, {seconds:g} s of flows, products "
        + ", ".join(b["product_code"] for b in quote_bodies)
    )
    redis = harness.redis_env() if args.db == "postgres" else {}
    profile_dir = Path(tempfile.mkdtemp(prefix="huibao-profile-")) if profiled else None
    extra_env = {**redis, **BENCH_MODE}
    # BENCH_PG_STATEMENT_LOG=<PostgreSQL's log file, readable here>: the app server's connections
    # log every statement's duration (a superuser setting, for those connections only), and each
    # phase reports PostgreSQL's own time per flow from it — what `pg_stat_statements` would give
    # without loading it (that needs a restart of a server other work shares).
    statement_log = os.environ.get("BENCH_PG_STATEMENT_LOG", "") if args.db == "postgres" else ""
    if statement_log:
        extra_env["PGOPTIONS"] = "-c log_min_duration_statement=0"
    if profile_dir is not None:
        extra_env["HUIBAO_BENCH_PROFILE_DIR"] = str(profile_dir)
    result: dict[str, Any] = {}
    with harness.server(url, extra_env=extra_env) as srv, harness.audit_sealer(url):
        pay = _setup_gateway(url, srv.url)
        from huibao.core import audit
        from huibao.core.models import AuditEntry
        from huibao.policy.models import Policy

        meter: DatabaseMeter | _NoDatabaseMeter = (
            DatabaseMeter(url, srv.process.pid, statement_log)
            if args.db == "postgres"
            else _NoDatabaseMeter(srv.process.pid)
        )

        def drive(flow_class: type[Flow], *, n: int, limit: float, flows: int = 0, prof: bool = False) -> Any:
            return lambda: asyncio.run(
                _drive(
                    srv.url,
                    quote_bodies,
                    customers,
                    seconds=limit,
                    concurrency=n,
                    pay=pay,
                    flow_class=flow_class,
                    max_flows=flows,
                    profile=prof,
                    per_flow=FloorFlow.requests,
                )
            )

        try:
            before = Policy.objects.count()
            entries_before = AuditEntry.objects.count()
            # Both workers compile, cache and connect once before anything is measured.
            harness.log("warm-up")
            drive(Flow, n=2, limit=600, flows=2)()
            drive(FloorFlow, n=2, limit=600, flows=2)()
            serial_real = _phase(meter, "real, serial", drive(Flow, n=1, limit=600, flows=serial))
            made = serial_real["server"]["requests_per_flow"]
            FloorFlow.requests = int(made) if made else REQUESTS_PER_FLOW
            serial_floor = _phase(meter, "floor, serial", drive(FloorFlow, n=1, limit=600, flows=serial))
            load_floor = _phase(meter, "floor, load", drive(FloorFlow, n=concurrency, limit=seconds))
            load_real = _phase(meter, "real, load", drive(Flow, n=concurrency, limit=seconds))
            profiles: dict[str, Any] = {}
            if profile_dir is not None:
                PROFILE_NOTIFY.set()
                drive(Flow, n=1, limit=600, flows=profiled, prof=True)()
                PROFILE_NOTIFY.clear()
                profiles = profile.summarise(
                    profile_dir, serial_real["server"]["steps"], flows=serial_real["flows_completed"], top=3
                )
            issued = Policy.objects.count() - before
            written = AuditEntry.objects.count() - entries_before
            unsealed = AuditEntry.objects.filter(seq__isnull=True).count()
            audit.seal_pending()
        finally:
            meter.close()
    result["requests_per_flow"] = FloorFlow.requests
    result["products"] = [b["product_code"] for b in quote_bodies]
    result["customers"] = concurrency
    result["real"] = {"load": load_real, "serial": serial_real}
    result["floor"] = {"load": load_floor, "serial": serial_floor}
    floor_rate = load_floor["flows_per_s"]
    result["policies_per_s"] = load_real["flows_per_s"]
    result["ratio"] = {
        "flows_per_s": round(load_real["flows_per_s"] / floor_rate, 3) if floor_rate else 0.0,
        "server_ms_per_flow": _ratio(serial_real, serial_floor, "server_ms_per_flow"),
        "server_cpu_ms_per_flow": _ratio(serial_real, serial_floor, "server_cpu_ms_per_flow"),
        "server_process_cpu_ms_per_flow": _ratio(serial_real, serial_floor, "server_process_cpu_ms_per_flow"),
        "statements_per_flow": _ratio(serial_real, serial_floor, "statements_per_flow"),
    }
    result["policy_number_lock"] = load_real["server"]["locks"].get("policy_policynumbersequence", {})
    result["policies_in_database"] = issued
    # The sealer ran beside the server: what it had not linked yet when the load stopped.
    result["audit"] = {"entries_written": written, "unsealed_at_end": unsealed, "redis_sessions": bool(redis)}
    if profiles:
        result["profile"] = profiles
    result["targets"] = {
        "floor_ratio": harness.target(result["ratio"]["flows_per_s"], ">=", TARGET_FLOOR_RATIO),
        "statements_per_flow": harness.target(
            serial_real["server"]["statements_per_flow"], "<=", TARGET_STATEMENTS_PER_FLOW
        ),
        "server_ms_per_flow": harness.target(
            serial_real["server"]["server_ms_per_flow"], "<=", TARGET_SERVER_MS_PER_FLOW
        ),
        # The same target on the flow's in-process CPU (serial, median over flows): what the wall
        # figure is on a machine with a core free for the server, and steady on a busy one.
        "server_cpu_ms_per_flow": harness.target(
            serial_real["server"]["server_process_cpu_ms_per_flow"], "<=", TARGET_SERVER_MS_PER_FLOW
        ),
    }
    result["met"] = {name: t["met"] for name, t in result["targets"].items()}
    return result


def _ratio(real: dict[str, Any], floor: dict[str, Any], key: str) -> float:
    below = floor["server"][key]
    return round(real["server"][key] / below, 2) if below else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True, help="customers to create and log in")
    parser.add_argument("--insurers", type=int, default=0, help="the bench's own products, one per insurer")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    _seed(args.seed, args.insurers)


if __name__ == "__main__":
    main()
