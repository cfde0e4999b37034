"""Signed PDFs: the application form and the e-policy of real issued policies, rendered with
reportlab and PAdES-signed with the platform CA (`huibao.esign.pdf`).

Set-up (a child process, like the other benches' seeding): in the bench database, one customer
per worker process (`bench-pdf-NNN`) buys the demo's simplest accident product through the
platform's own services — quote, application, data, real-name check, confirmation, reading,
signature, payment, and the sandbox gateway's signed success notification, whose paid hook issues
the policy. Those policies are reused by later runs. The platform CA lives in the bench's own
VAR dir (`var/bench/pdf/ca`, made by `ensure_platform_ca` on first use), not the developer's.

Measured in this process, each for a few seconds, after a warm-up:

- the application form and the e-policy through the platform's background tasks
  (`render_application_form`, `render_epolicy_task`, called synchronously as a worker would):
  load the row, lock it, render, sign, encrypt and store a new `SignedDocument`, link it, and for
  the e-policy append an audit entry. The tasks are idempotent, so before each run (untimed) the
  link to the previous document is cleared; the documents left unlinked are deleted at the end;
- the e-policy rendered and signed only (`epolicy_pdf`: no database write);
- `verify_pdf` of the signed e-policy against the platform root.

Then N worker processes (forked, one per core), each on its own policy, run the e-policy task in
a loop for the duration; then the same with render + sign only. The target is on the first:
≥ 20 signed and stored e-policies per second. Every stored document is checked with `verify_pdf`.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import harness

TARGET_EPOLICIES_PER_S = 20
CUSTOMER_PREFIX = "bench-pdf-"
APPLICANT_NAMES = ["王小明", "李晓红", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽"]


def var_dir() -> Path:
    return harness.VAR / "pdf"


def env(db_url: str) -> dict[str, str]:
    """The harness's child environment with the bench's own VAR dir (and so its own CA)."""
    return {**harness.child_env(db_url), "HUIBAO_VAR_DIR": str(var_dir())}


# --- seed (child process with Django) ----------------------------------------------------------


def _resident_id(index: int) -> str:
    from huibao.core.validators import id_check_digit

    today = datetime.date.today()
    birth = today.replace(year=today.year - 36) + datetime.timedelta(days=index % 300)
    first17 = f"110105{birth:%Y%m%d}{index % 1000:03d}"
    return first17 + id_check_digit(first17)


def _buy(index: int, code: str) -> Any:
    """One customer buys `code` through the platform's services; returns the issued policy."""
    from huibao.account.models import User, UserKind
    from huibao.application.models import Application
    from huibao.application.services.confirm import agree_terms, confirm
    from huibao.application.services.data import save_data
    from huibao.application.services.identity import verify_identity
    from huibao.application.services.pay import pay
    from huibao.application.services.sign import sign
    from huibao.application.services.start import start_application
    from huibao.application.tests import factories as af
    from huibao.catalog.models import Product, ProductStatus
    from huibao.payment import services as payment_services
    from huibao.payment.tests.factories import notification
    from huibao.policy.models import Policy
    from huibao.rating import rules
    from huibao.rating import services as rating_services

    username = f"{CUSTOMER_PREFIX}{index:03d}"
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, kind=UserKind.CUSTOMER)
        user.set_phone(f"137{index:08d}")
        user.set_unusable_password()
        user.save()
    existing = Policy.objects.filter(customer=user).order_by("id").first()
    if existing is not None:
        return existing
    product = Product.objects.get(code=code, status=ProductStatus.ON_SALE)
    assert product.current_version_id is not None
    rating = rating_services.get_rating_product(product.current_version_id)
    plan = next((p for p in rating.plans if p.code == "basic"), rating.plans[0])
    inputs = rules.fill_profile(rating, plan, {"age": 36, "sex": "M"})
    quote = rating_services.create_quote(product_code=code, plan_code=plan.code, inputs=inputs, user=user)
    app = start_application(quote_ids=[quote.pk], user=user)
    name = APPLICANT_NAMES[index % len(APPLICANT_NAMES)]
    data = af.data(applicant_id=_resident_id(index), name=name)
    save_data(app, data, actor=user)
    verify_identity(app, name=name, id_number=data.applicant.id_number, user=user)
    app = confirm(app, user=user)
    if app.terms_agreed_at is None:
        agree_terms(app, user=user)
    af.read_everything(app, user)
    app = sign(app, user=user, confirmed=True)
    payment = pay(app, user=user)
    stored = Application.objects.get(pk=app.pk)
    headers, body = notification(
        payment, payer_name=stored.applicant_name, payer_id=stored.applicant_id_number
    )
    outcome = payment_services.handle_notification("sandbox", headers, body)
    if outcome.code != "succeeded":
        raise SystemExit(f"payment notification gave {outcome.code}: {outcome.message}")
    return Policy.objects.get(application=app)


def _seed(count: int) -> None:
    """Prints one JSON line: the product and, per customer, the policy and its application."""
    from huibao.catalog.demo import generator

    code = str(getattr(generator, "SIMPLE_ACCIDENT_CODE", ""))
    if not code:
        raise SystemExit("huibao.catalog.demo has no SIMPLE_ACCIDENT_CODE: load the demo market first")
    rows = []
    for i in range(count):
        policy = _buy(i, code)
        rows.append(
            {
                "policy": policy.pk,
                "number": policy.number,
                "application": str(policy.application.public_id),
                "application_number": policy.application.number,
            }
        )
    print(json.dumps({"product": code, "policies": rows}, ensure_ascii=False))
    print(f"[bench] {count} issued policies of {code} ready", file=sys.stderr)


def seed(db_url: str, count: int) -> dict[str, Any]:
    out = subprocess.run(
        [harness.PYTHON, "-m", "bench.pdf", "--seed", str(count)],
        env=env(db_url),
        cwd=harness.ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- the documents (this process, with Django) -------------------------------------------------


def _setup(db_url: str) -> None:
    os.environ.update(env(db_url))
    import django

    django.setup()
    from huibao.esign.ca import ensure_platform_ca

    ensure_platform_ca()  # once, before any worker process starts


def _epolicy_task(policy_id: int) -> None:
    """The platform's e-policy task, made to render again (the link cleared beforehand)."""
    from huibao.policy.tasks import render_epolicy_task

    render_epolicy_task.call(policy_id)


def _clear_epolicy(policy_id: int) -> None:
    from huibao.policy.models import Policy

    Policy.objects.filter(pk=policy_id).update(epolicy=None, epolicy_sha256="")


def _application_form_task(public_id: str) -> None:
    from huibao.application.tasks import render_application_form

    render_application_form.call(public_id)


def _clear_application_form(public_id: str) -> None:
    from huibao.application.models import Application

    Application.objects.filter(public_id=public_id).update(application_form=None)


def _epolicy_render_sign(policy_id: int) -> bytes:
    from huibao.policy.documents import epolicy_pdf
    from huibao.policy.models import Policy

    return epolicy_pdf(Policy.objects.get(pk=policy_id))


def _measure(
    fn: Callable[[], object], seconds: float, before: Callable[[], object] | None = None
) -> dict[str, Any]:
    """Median and rate of `fn` (only `fn` is timed, not `before`), after one warm-up call."""
    if before is not None:
        before()
    fn()
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - started)
    return {
        "median_ms": round(1000 * statistics.median(durations), 1),
        "per_s": round(len(durations) / sum(durations), 1),
        "n": len(durations),
    }


def _pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def _check(pdf: bytes) -> dict[str, Any]:
    from huibao.esign.pdf import verify_pdf

    check = verify_pdf(pdf)
    return {
        "pages": _pages(pdf),
        "bytes": len(pdf),
        "valid": check.valid,
        "signer": check.signer_cn,
        "problems": list(check.problems),
    }


def _stored_epolicy(policy_id: int) -> bytes:
    from huibao.esign.models import SignedDocument
    from huibao.policy.models import Policy

    policy = Policy.objects.get(pk=policy_id)
    assert policy.epolicy_id is not None
    document = SignedDocument.objects.get(pk=policy.epolicy_id)
    if document.sha256 != policy.epolicy_sha256:
        raise RuntimeError(f"policy {policy.number}: stored e-policy digest does not match")
    return document.pdf


def _stored_application_form(public_id: str) -> bytes:
    from huibao.application.models import Application
    from huibao.esign.models import SignedDocument

    app = Application.objects.get(public_id=public_id)
    assert app.application_form_id is not None
    return SignedDocument.objects.get(pk=app.application_form_id).pdf


# --- N worker processes -------------------------------------------------------------------------


def _worker(job: str, policy_id: int, seconds: float, barrier: Any, results: Any) -> None:
    from django.db import connection

    try:
        if job == "task":

            def one() -> None:
                _clear_epolicy(policy_id)
                _epolicy_task(policy_id)

        else:

            def one() -> None:
                _epolicy_render_sign(policy_id)

        one()  # warm-up: this process's database connection
        barrier.wait(timeout=120)
        count = 0
        started = time.monotonic()
        deadline = started + seconds
        while time.monotonic() < deadline:
            one()
            count += 1
        results.put({"count": count, "started": started, "ended": time.monotonic()})
    except Exception as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        connection.close()


def _in_processes(job: str, policy_ids: list[int], seconds: float) -> dict[str, Any]:
    """Signed e-policies per second over all workers, one policy per worker, started together."""
    from django.db import connections

    connections.close_all()  # no connection crosses the fork
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(policy_ids))
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(job, pk, seconds, barrier, results), daemon=True)
        for pk in policy_ids
    ]
    for w in workers:
        w.start()
    rows = [results.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        raise RuntimeError(f"worker failed: {errors[0]}")
    elapsed = max(r["ended"] for r in rows) - min(r["started"] for r in rows)
    total = sum(r["count"] for r in rows)
    return {
        "processes": len(policy_ids),
        "documents": total,
        "seconds": round(elapsed, 2),
        "per_s": round(total / elapsed, 1),
        "per_process": [r["count"] for r in rows],
    }


def _delete_unlinked(numbers: list[str], application_numbers: list[str]) -> int:
    """Deletes the documents the runs left unlinked (every run but the last of each row)."""
    from huibao.application.models import Application
    from huibao.esign.models import SignedDocument, SignedDocumentKind
    from huibao.policy.models import Policy

    linked = set(Policy.objects.filter(number__in=numbers).values_list("epolicy_id", flat=True))
    forms = Application.objects.filter(number__in=application_numbers)
    linked |= set(forms.values_list("application_form_id", flat=True))
    deleted, _ = (
        SignedDocument.objects.filter(
            kind__in=[SignedDocumentKind.EPOLICY, SignedDocumentKind.APPLICATION_FORM],
            reference__in=[*numbers, *application_numbers],
        )
        .exclude(pk__in=[pk for pk in linked if pk is not None])
        .delete()
    )
    return deleted


# --- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    single = args.duration or (2.0 if quick else 10.0)
    multi = args.duration or (4.0 if quick else 20.0)
    processes = os.cpu_count() or 1
    url = harness.prepare(args.db, products=args.products)
    seeded = seed(url, processes)
    rows = seeded["policies"]
    harness.log(f"{len(rows)} policies of {seeded['product']}; {single:g} s a measurement; CA in {var_dir()}")
    _setup(url)
    first = rows[0]
    policy_id, app_id = int(first["policy"]), str(first["application"])

    harness.log("application form: render_application_form task")
    form = _measure(
        lambda: _application_form_task(app_id), single, before=lambda: _clear_application_form(app_id)
    )
    form.update(_check(_stored_application_form(app_id)))
    harness.log("e-policy: render_epolicy_task")
    epolicy = _measure(lambda: _epolicy_task(policy_id), single, before=lambda: _clear_epolicy(policy_id))
    signed = _stored_epolicy(policy_id)
    epolicy.update(_check(signed))
    harness.log("e-policy: render + sign only (epolicy_pdf)")
    render_sign = _measure(lambda: _epolicy_render_sign(policy_id), single)
    harness.log("verify_pdf of the e-policy")
    from huibao.esign.pdf import verify_pdf

    verify = _measure(lambda: verify_pdf(signed), single)

    ids = [int(r["policy"]) for r in rows]
    harness.log(f"e-policy task in {processes} processes, {multi:g} s")
    multi_task = _in_processes("task", ids, multi)
    harness.log(f"e-policy render + sign only in {processes} processes, {multi:g} s")
    multi_render = _in_processes("render", ids, multi)

    checks = [_check(_stored_epolicy(pk)) for pk in ids]
    all_valid = form["valid"] and epolicy["valid"] and all(c["valid"] for c in checks)
    deleted = _delete_unlinked([r["number"] for r in rows], [r["application_number"] for r in rows])
    harness.log(f"deleted {deleted} signed documents the measurements left unlinked")
    if not all_valid:
        problems = [*form["problems"], *epolicy["problems"], *(p for c in checks for p in c["problems"])]
        raise SystemExit(f"a signed document does not validate: {problems[:3]}")

    figures = {
        "product": seeded["product"],
        "seconds_per_measurement": single,
        "application_form_task": form,
        "epolicy_task": epolicy,
        "epolicy_render_sign_only": render_sign,
        "verify_epolicy": verify,
        "processes": processes,
        "epolicy_task_per_s_n_processes": multi_task,
        "epolicy_render_sign_only_per_s_n_processes": multi_render,
        "stored_documents_validate": all_valid,
    }
    value = multi_task["per_s"]
    return {
        "figures": figures,
        "targets": {"signed_epolicies_per_s": harness.target(value, ">=", TARGET_EPOLICIES_PER_S)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True, help="issued policies to make or reuse")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    _seed(args.seed)


if __name__ == "__main__":
    main()
