"""Quote to issued policy over HTTP: many logged-in customers buying the demo's simplest accident
product at once through `/api/v1`, paying on the sandbox gateway.

Each simulated customer (asyncio + httpx, one session cookie each) does: quote → application →
data → identity → confirm → open the document → wait its `min_read_seconds` (the wait overlaps
with the other customers' work) → read (answered with the first key clause, shown) → confirm each
key clause (answered with the next one, shown) → sign (by confirmation) → pay: 14 requests. The sandbox
gateway — in this process, as the remote gateway would be — then takes the payer's card
(`sandbox.submit_payment`) and delivers its signed notification over HTTP to
`/payment/notify/sandbox/`, whose paid hook issues the policy; a last GET checks it is issued.

The server is granian (harness.server); beside it runs the audit chain's sealer
(`manage.py seal_audit --loop 0.2`), as in production, and on PostgreSQL the server gets the local
Redis as its cache (sessions are then `cached_db`). Background tasks (application-form and
e-policy PDFs, insurer delivery) are only queued, no worker runs: the figure is the interactive path.

Target: ≥ 200 policies issued per second. Printed: policies/s, flows completed and failed,
p50/p99 of each step and of the whole flow, and the target.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from bench import harness

TARGET_POLICIES_PER_S = 200
NAMES = ["王小明", "李晓红", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏"]
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- seed (child process with Django) --------------------------------------------------------------


def _seed(count: int) -> None:
    """Prints one JSON line with the product and quote body, then one per customer session."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from huibao.account.models import User, UserKind
    from huibao.catalog.models import Product, ProductStatus
    from huibao.rating import rules, services
    from huibao.sandbox.models import SandboxCitizen

    # The sandbox registry of this bench database starts empty each run: an ID number drawn again
    # is then always checked under the name derived from it (see Flow.run).
    SandboxCitizen.objects.all().delete()
    code = _simple_product_code()
    product = Product.objects.get(code=code, status=ProductStatus.ON_SALE)
    assert product.current_version_id is not None
    rating = services.get_rating_product(product.current_version_id)
    plan = next((p for p in rating.plans if p.code == "basic"), rating.plans[0])
    inputs = rules.fill_profile(rating, plan, {"age": 35, "sex": "M"})
    result = rules.price(rating, plan.code, inputs)
    print(
        json.dumps(
            {"product_code": code, "plan_code": plan.code, "inputs": result.inputs}, ensure_ascii=False
        )
    )
    existing = {u.username: u for u in User.objects.filter(username__startswith="bench-issue-")}
    for i in range(count):
        username = f"bench-issue-{i:05d}"
        user = existing.get(username)
        if user is None:
            user = User(username=username, kind=UserKind.CUSTOMER)
            user.set_phone(f"139{i:08d}")
            user.set_unusable_password()
            user.save()
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = SESSION_BACKEND
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        print(json.dumps({"session": session.session_key, "name": NAMES[i % len(NAMES)]}, ensure_ascii=False))
    print(f"[bench] {count} customers logged in; product {code}", file=sys.stderr)


def _simple_product_code() -> str:
    """The demo's simplest accident product; the loader puts it in every demo market."""
    from huibao.catalog.demo import generator

    code = getattr(generator, "SIMPLE_ACCIDENT_CODE", "")
    if not code:
        raise SystemExit("huibao.catalog.demo has no SIMPLE_ACCIDENT_CODE: load the demo market first")
    return str(code)


def seed(db_url: str, count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = subprocess.run(
        [harness.PYTHON, "-m", "bench.issue", "--seed", str(count)],
        env=harness.child_env(db_url),
        cwd=harness.ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rows[0], rows[1:]


# --- the gateway (this process, with Django) --------------------------------------------------------


def _setup_gateway(db_url: str, server_url: str) -> Callable[[str, str, str], bool]:
    """Django in this process for the sandbox gateway's side; its deliveries go to `server_url`."""
    os.environ.update(harness.child_env(db_url))
    # The gateway's own delivery task would be queued in the database: it delivers at once instead.
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"
    import django

    django.setup()
    import httpx

    from huibao.sandbox import notifications
    from huibao.sandbox import payment as sandbox

    client = httpx.Client(timeout=30.0)

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(server_url + urlparse(url).path, content=body, headers=headers)
        return response.status_code, response.text

    notifications.http_post = post

    def pay(txn_id: str, name: str, id_number: str) -> bool:
        from django.db import connection

        try:
            sandbox.submit_payment(
                txn_id, payer_name=name, id_number=id_number, card_number="4242424242424242", action="pay"
            )
            return sandbox.deliver(txn_id)
        finally:
            connection.close()

    return pay


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
    def __init__(
        self,
        client: Any,
        quote_body: dict[str, Any],
        customer: dict[str, Any],
        timings: dict[str, list[float]],
        gateway: Callable[[str, str, str], Awaitable[bool]],
        rng: random.Random,
    ) -> None:
        self.client = client
        self.quote_body = quote_body
        self.customer = customer
        self.timings = timings
        self.gateway = gateway
        self.rng = rng

    async def call(self, step: str, method: str, path: str, body: Any = None) -> Any:
        started = time.perf_counter()
        response = await self.client.request(method, path, json=body)
        self.timings.setdefault(step, []).append((time.perf_counter() - started) * 1000)
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
        await self.call("data", "PUT", f"{url}/data", data)
        await self.call("identity", "POST", f"{url}/identity", {"name": name, "id_number": id_number})
        state = await self.call("confirm", "POST", f"{url}/confirm")
        if state["status"] != "accepted":
            raise Failed("confirm", 200, f"underwriting gave {state['status']}")
        documents = state["documents"]
        for doc in documents:
            await self.call("open", "POST", f"{url}/documents/{doc['id']}/open")
        await asyncio.sleep(max((d["min_read_seconds"] for d in documents), default=0) + 0.05)
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
            path = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
            answer = await self.call("clause_confirm", "POST", f"{path}/confirm?show_next=true")
            clause = answer["next_clause"]
            confirmed += 1
        if confirmed != len(state["clauses"]):
            raise Failed("clause_confirm", 200, f"{confirmed} of {len(state['clauses'])} clauses confirmed")
        await self.call("sign", "POST", f"{url}/signatures", {"role": "applicant", "confirmed": True})
        payment = await self.call("pay", "POST", f"{url}/payment")
        txn_id = payment["checkout_url"].rstrip("/").rsplit("/", 1)[1]
        started = time.perf_counter()
        acknowledged = await self.gateway(txn_id, name, id_number)
        self.timings.setdefault("gateway_pay_and_notify", []).append((time.perf_counter() - started) * 1000)
        if not acknowledged:
            raise Failed("notify", 0, "the platform did not acknowledge the notification")
        final = await self.call("check", "GET", url)
        if final["status"] != "issued" or len(final["policies"]) != 1:
            raise Failed("check", 200, f"status {final['status']}, {len(final['policies'])} policies")


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


async def _drive(
    server_url: str,
    quote_body: dict[str, Any],
    customers: list[dict[str, Any]],
    *,
    seconds: float,
    concurrency: int,
    pay: Callable[[str, str, str], bool],
) -> dict[str, Any]:
    import httpx

    timings: dict[str, list[float]] = {}
    flows: list[float] = []
    errors: dict[str, int] = {}
    samples: list[str] = []
    gateway_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gateway")
    loop = asyncio.get_running_loop()

    async def gateway(txn_id: str, name: str, id_number: str) -> bool:
        return await loop.run_in_executor(gateway_pool, pay, txn_id, name, id_number)

    deadline = time.monotonic() + seconds
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
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    await Flow(client, quote_body, customer, timings, gateway, rng).run()
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

    began = time.monotonic()
    await asyncio.gather(*(customer_loop(i) for i in range(concurrency)))
    elapsed = time.monotonic() - began
    gateway_pool.shutdown()
    return {
        "seconds": round(elapsed, 2),
        "flows_completed": len(flows),
        "flows_failed": sum(errors.values()),
        "policies_per_s": round(len(flows) / elapsed, 2) if elapsed else 0.0,
        "requests_per_s": round(
            sum(len(v) for k, v in timings.items() if k != "gateway_pay_and_notify") / elapsed, 1
        ),
        "flow": _percentiles(flows),
        "steps": {step: _percentiles(values) for step, values in timings.items()},
        "errors": errors,
        "error_samples": samples,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    seconds = args.duration or (12.0 if quick else 40.0)
    concurrency = getattr(args, "customers", 0) or (48 if quick else 96)
    url = harness.prepare(args.db, products=args.products)
    quote_body, customers = seed(url, concurrency)
    harness.log(f"{len(customers)} customers, {seconds:g} s of flows, product {quote_body['product_code']}")
    redis = harness.redis_env() if args.db == "postgres" else {}
    with harness.server(url, extra_env=redis) as srv, harness.audit_sealer(url):
        pay = _setup_gateway(url, srv.url)
        from huibao.core import audit
        from huibao.core.models import AuditEntry
        from huibao.policy.models import Policy

        before = Policy.objects.count()
        entries_before = AuditEntry.objects.count()
        result = asyncio.run(
            _drive(srv.url, quote_body, customers, seconds=seconds, concurrency=concurrency, pay=pay)
        )
        issued = Policy.objects.count() - before
        written = AuditEntry.objects.count() - entries_before
        unsealed = AuditEntry.objects.filter(seq__isnull=True).count()
        audit.seal_pending()
    result["policies_in_database"] = issued
    # The sealer ran beside the server: what it had not linked yet when the load stopped.
    result["audit"] = {"entries_written": written, "unsealed_at_end": unsealed, "redis_sessions": bool(redis)}
    result["customers"] = concurrency
    result["targets"] = {
        "policies_per_s": harness.target(result["policies_per_s"], ">=", TARGET_POLICIES_PER_S),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True, help="customers to create and log in")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    _seed(args.seed)


if __name__ == "__main__":
    main()
