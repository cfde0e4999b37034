"""A generator of N in-force policies for the daily-run and renewal benchmarks.

Two template policies are issued through the real flow (`issue_policies`) with a product version
the rating engine prices (by default the policy tests' one-year critical-illness product, whose
pricing is a rating spec; `make_templates(version)` takes any published version with a one-year
term and one plan): one paid annually, one paid monthly with a stored payment authorisation and
its twelve instalments. Their rows — application, application item, policy, parties, status
history (issued, then started), mandate, schedule, instalments — are then cloned
N times with new keys, numbers and dates, written with COPY on PostgreSQL (psycopg's `copy`) and
`executemany` on SQLite, in chunks (memory flat in N). The clones share the templates' insured
person, quote and encrypted texts (the same ciphertexts decrypt for every clone).

Dates, for the business date `run_date` (`Spec`): `expiring` policies expire on it (their
`expires_at` is its local midnight), `starting` ones wait to start on it, the rest expire over
the following year, one date after another. A share (`instalment_share`) pays monthly: its
instalments before `run_date` are paid, the one due on `run_date` is due, and for `overdue` of
them the one due the month before is still unpaid.
"""

from __future__ import annotations

import datetime
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MONTHLY = 12
NUMBER_PREFIX = "BG"  # generated policy numbers: BG + 12 digits (templates keep their own)


@dataclass(frozen=True)
class Spec:
    count: int
    run_date: datetime.date
    expiring: int = 3000
    starting: int = 1000
    instalment_share: float = 0.1
    overdue: int = 300
    chunk: int = 50_000
    seed: int = 20261203


@dataclass
class Templates:
    annual: int  # policy pks
    monthly: int
    version_id: int
    plan_id: int


@dataclass
class Generated:
    policies: int = 0
    monthly: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    first_pk: int = 0
    last_pk: int = 0


# --- templates ---------------------------------------------------------------------------------


TEMPLATE_PRODUCT = "基准测试重疾险"


def find_templates() -> Templates | None:
    """The templates an earlier generation in this database issued (of `TEMPLATE_PRODUCT`)."""
    from huibao.billing.models import PremiumSchedule
    from huibao.policy.models import Policy

    issued = Policy.objects.filter(product_version__product__name=TEMPLATE_PRODUCT).exclude(
        number__startswith=NUMBER_PREFIX
    )
    monthly_numbers = set(
        PremiumSchedule.objects.filter(
            reference_kind="policy", reference_id__in=issued.values("number"), mandate__isnull=False
        ).values_list("reference_id", flat=True)
    )
    annual = monthly = None
    for policy in issued.order_by("pk"):
        if policy.number in monthly_numbers:
            monthly = monthly or policy
        else:
            annual = annual or policy
    if annual is None or monthly is None:
        return None
    return Templates(
        annual=annual.pk, monthly=monthly.pk, version_id=annual.product_version_id, plan_id=annual.plan_id
    )


def make_templates(version: Any = None) -> Templates:
    """Issues the two template policies (annual, monthly with a mandate)."""
    import itertools

    from django.db import transaction

    from huibao.billing.models import PremiumSchedule
    from huibao.billing.tests import factories as billing_f
    from huibao.policy.tests import factories as f

    # The factories number applications and phones from 1 in each process: start past the rows a
    # previous run left, so that a second generation in the same database does not collide.
    f._seq = itertools.count(10_000 + 10 * _next_id("application_application"))
    version = version or f.product_version(name=TEMPLATE_PRODUCT)
    plan = version.plans.get()
    user = f.customer()
    annual = f.issue(
        f.application([(version, f.Person(), 500_000, Decimal("320.00"), {"term": "1y"})], customer=user)
    )[0]
    monthly_app = f.application(
        [(version, f.Person(), 500_000, Decimal("1200.00"), {"term": "1y", "payment_mode": "monthly"})],
        customer=user,
    )
    monthly = f.issue(monthly_app)[0]
    mandate = billing_f.mandate(user.pk)
    with transaction.atomic():
        PremiumSchedule.objects.filter(reference_kind="policy", reference_id=monthly.number).update(
            mandate=mandate
        )
    return Templates(annual=annual.pk, monthly=monthly.pk, version_id=version.pk, plan_id=plan.pk)


# --- raw rows ----------------------------------------------------------------------------------


class Table:
    """One table's template row, as the database holds it; `row(values)` is a copy with the
    named columns replaced."""

    def __init__(self, model: Any, where: str, params: Sequence[Any], *, order: str = "id") -> None:
        from django.db import connection

        self.model = model
        self.name = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT * FROM "{self.name}" WHERE {where} ORDER BY {order}', list(params))
            self.columns = [d[0] for d in cursor.description]
            self.templates = [list(self._raw(v)) for v in cursor.fetchall()]
        if not self.templates:
            raise LookupError(f"{self.name}: no template row where {where} {params}")

    @staticmethod
    def _raw(row: Sequence[Any]) -> Iterator[Any]:
        from django.db import connection

        for value in row:
            if connection.vendor == "postgresql" and isinstance(value, dict | list):
                from psycopg.types.json import Jsonb

                yield Jsonb(value)
            else:
                yield value

    def setter(self, *names: str) -> Callable[[list[Any], Sequence[Any]], list[Any]]:
        index = [self.columns.index(n) for n in names]

        def put(base: list[Any], values: Sequence[Any]) -> list[Any]:
            row = base.copy()
            for i, v in zip(index, values, strict=True):
                row[i] = v
            return row

        return put


def _write(table: Table, rows: Iterable[Sequence[Any]]) -> int:
    from django.db import connection

    cols = ", ".join(f'"{c}"' for c in table.columns)
    count = 0
    if connection.vendor == "postgresql":
        raw = connection.connection.cursor()
        with raw.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    marks = ", ".join("?" for _ in table.columns)
    batch: list[Sequence[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', batch)
            count += len(batch)
    return count


def _next_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        return int(cursor.fetchone()[0]) + 1


def _reset_sequences(tables: Iterable[str]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows the largest id inserted
    with connection.cursor() as cursor:
        for name in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                f'(SELECT COALESCE(MAX(id), 1) FROM "{name}"))'
            )


# --- the generator -----------------------------------------------------------------------------


def _midnight(day: datetime.date) -> datetime.datetime:
    from django.utils import timezone

    return datetime.datetime.combine(day, datetime.time(0), tzinfo=timezone.get_default_timezone())


def _add_months(day: datetime.date, months: int) -> datetime.date:
    import calendar

    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def generate(
    spec: Spec, templates: Templates | None = None, *, log: Callable[[str], None] = print
) -> Generated:
    """Writes `spec.count` policies cloned from the templates (issued first if not given)."""
    from django.db import connection, transaction

    from huibao.application.models import Application, ApplicationItem
    from huibao.billing.models import Instalment, PaymentMandate, PremiumSchedule
    from huibao.billing.states import InstalmentStatus, ScheduleStatus
    from huibao.policy.models import Policy, PolicyParty, PolicyStatusChange
    from huibao.policy.states import PolicyStatus
    from huibao.sandbox.models import SandboxMandate

    began = time.monotonic()
    templates = templates or find_templates() or make_templates()
    ops = connection.ops
    pg = connection.vendor == "postgresql"

    def dt(value: datetime.datetime) -> Any:
        return ops.adapt_datetimefield_value(value)

    def uid() -> Any:
        u = uuid.uuid4()
        return u if pg else u.hex

    annual = Policy.objects.get(pk=templates.annual)
    monthly = Policy.objects.get(pk=templates.monthly)
    t_schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=monthly.number)
    tables = {
        "app": [Table(Application, "id = %s", [p.application_id]) for p in (annual, monthly)],
        "item": [Table(ApplicationItem, "id = %s", [p.item_id]) for p in (annual, monthly)],
        "policy": [Table(Policy, "id = %s", [p.pk]) for p in (annual, monthly)],
        "party": [Table(PolicyParty, "policy_id = %s", [p.pk], order="role") for p in (annual, monthly)],
    }
    t_change = Table(PolicyStatusChange, "policy_id = %s", [annual.pk])
    put_change = t_change.setter("id", "policy_id", "from_status", "to_status", "reason", "at")
    if t_schedule.mandate is None:
        raise LookupError("the monthly template has no mandate")
    t_mandate = Table(PaymentMandate, "id = %s", [t_schedule.mandate_id])
    # The sandbox gateway's side of each mandate (what a charge looks up).
    t_gateway = Table(SandboxMandate, "agreement_id = %s", [t_schedule.mandate.agreement_id])
    put_gateway = t_gateway.setter("id", "agreement_id")
    t_sched = Table(PremiumSchedule, "id = %s", [t_schedule.pk])
    t_inst = Table(Instalment, "schedule_id = %s", [t_schedule.pk], order="number")
    put_app = tables["app"][0].setter("id", "public_id", "number")
    put_item = tables["item"][0].setter("id", "application_id")
    put_policy = tables["policy"][0].setter(
        "id",
        "public_id",
        "number",
        "application_id",
        "item_id",
        "application_number",
        "application_public_id",
        "verification_code",
        "status",
        "effective_at",
        "expires_at",
        "issued_at",
        "cooling_off_until",
        "epolicy_id",
        "epolicy_sha256",
    )
    put_party = tables["party"][0].setter("id", "policy_id")
    put_mandate = t_mandate.setter("id", "public_id", "agreement_id")
    put_sched = t_sched.setter("id", "public_id", "reference_id", "mandate_id", "status")
    put_inst = t_inst.setter(
        "id", "public_id", "schedule_id", "due_on", "status", "paid_at", "payment_reference"
    )
    names = [
        Application,
        ApplicationItem,
        Policy,
        PolicyParty,
        PolicyStatusChange,
        PaymentMandate,
        SandboxMandate,
        PremiumSchedule,
        Instalment,
    ]
    next_ids = {m._meta.db_table: _next_id(m._meta.db_table) for m in names}
    out = Generated(first_pk=next_ids[Policy._meta.db_table])
    rng = random.Random(spec.seed)
    run_date = spec.run_date
    monthly_every = max(1, round(1 / spec.instalment_share)) if spec.instalment_share > 0 else 0
    overdue_left = spec.overdue

    def plan(i: int) -> tuple[str, datetime.date, datetime.date]:
        """(status, start, end) of the i-th generated policy."""
        if i < spec.expiring:
            end = run_date
        elif i < spec.expiring + spec.starting:
            start = run_date
            return PolicyStatus.PENDING_START, start, _years(start, 1)
        else:
            end = run_date + datetime.timedelta(days=1 + (i % 365))
        return PolicyStatus.IN_FORCE, _years(end, -1), end

    for first in range(0, spec.count, spec.chunk):
        last = min(first + spec.chunk, spec.count)
        apps: list[list[Any]] = []
        items: list[list[Any]] = []
        policies: list[list[Any]] = []
        parties: list[list[Any]] = []
        changes: list[list[Any]] = []
        mandates: list[list[Any]] = []
        gateway: list[list[Any]] = []
        schedules: list[list[Any]] = []
        instalments: list[list[Any]] = []
        for i in range(first, last):
            status, start, end = plan(i)
            is_monthly = bool(monthly_every) and i % monthly_every == monthly_every - 1
            k = 1 if is_monthly else 0
            app_id = next_ids["application_application"]
            item_id = next_ids["application_applicationitem"]
            pol_id = next_ids["policy_policy"]
            next_ids["application_application"] += 1
            next_ids["application_applicationitem"] += 1
            next_ids["policy_policy"] += 1
            app_public = uid()
            app_number = f"TBG{pol_id:012d}"
            number = f"{NUMBER_PREFIX}{pol_id:012d}"
            issued = _midnight(start) - datetime.timedelta(hours=rng.randint(1, 72))
            apps.append(put_app(tables["app"][k].templates[0], (app_id, app_public, app_number)))
            items.append(put_item(tables["item"][k].templates[0], (item_id, app_id)))
            policies.append(
                put_policy(
                    tables["policy"][k].templates[0],
                    (
                        pol_id,
                        uid(),
                        number,
                        app_id,
                        item_id,
                        app_number,
                        app_public,
                        f"g{pol_id:x}{rng.getrandbits(48):012x}",
                        str(status),
                        dt(_midnight(start)),
                        dt(_midnight(end)),
                        dt(issued),
                        ops.adapt_datefield_value(issued.date() + datetime.timedelta(days=15)),
                        None,
                        "",
                    ),
                )
            )
            for party in tables["party"][k].templates:
                pid = next_ids["policy_policyparty"]
                next_ids["policy_policyparty"] += 1
                parties.append(put_party(party, (pid, pol_id)))
            history = [("", PolicyStatus.PENDING_START, "issued", issued)]
            if status == PolicyStatus.IN_FORCE:
                history.append((PolicyStatus.PENDING_START, PolicyStatus.IN_FORCE, "start", _midnight(start)))
            for before, after, reason, when in history:
                cid = next_ids["policy_policystatuschange"]
                next_ids["policy_policystatuschange"] += 1
                changes.append(
                    put_change(t_change.templates[0], (cid, pol_id, before, after, reason, dt(when)))
                )
            if not is_monthly:
                continue
            out.monthly += 1
            mid = next_ids["billing_paymentmandate"]
            next_ids["billing_paymentmandate"] += 1
            agreement = f"GEN{mid:012d}"
            mandates.append(put_mandate(t_mandate.templates[0], (mid, uid(), agreement)))
            gid = next_ids["sandbox_sandboxmandate"]
            next_ids["sandbox_sandboxmandate"] += 1
            gateway.append(put_gateway(t_gateway.templates[0], (gid, agreement)))
            sid = next_ids["billing_premiumschedule"]
            next_ids["billing_premiumschedule"] += 1
            schedules.append(
                put_sched(t_sched.templates[0], (sid, uid(), number, mid, ScheduleStatus.ACTIVE))
            )
            # Instalments fall on the policy's day of the month, the first paid at checkout;
            # `overdue` of them owe the last one fallen due (one in ten the last three: lapsing).
            owe = 0
            if overdue_left > 0 and start < run_date - datetime.timedelta(days=100):
                owe = 3 if overdue_left % 10 == 0 else 1
                overdue_left -= 1
            for n, inst in enumerate(t_inst.templates):
                due = _add_months(start, n)
                unpaid = n > 0 and (due >= run_date or _add_months(due, owe) >= run_date)
                iid = next_ids["billing_instalment"]
                next_ids["billing_instalment"] += 1
                instalments.append(
                    put_inst(
                        inst,
                        (
                            iid,
                            uid(),
                            sid,
                            ops.adapt_datefield_value(due),
                            InstalmentStatus.DUE if unpaid else InstalmentStatus.PAID,
                            None if unpaid else dt(_midnight(due) + datetime.timedelta(hours=9)),
                            "" if unpaid else f"GP{iid:014d}",
                        ),
                    )
                )
        with transaction.atomic():
            for table, rows in (
                (tables["app"][0], apps),
                (tables["item"][0], items),
                (tables["policy"][0], policies),
                (tables["party"][0], parties),
                (t_change, changes),
                (t_mandate, mandates),
                (t_gateway, gateway),
                (t_sched, schedules),
                (t_inst, instalments),
            ):
                if rows:
                    out.rows[table.name] = out.rows.get(table.name, 0) + _write(table, rows)
        out.policies = last
        log(f"generated {last:,}/{spec.count:,} policies ({time.monotonic() - began:.0f}s)")
    _reset_sequences(m._meta.db_table for m in names)
    out.last_pk = next_ids["policy_policy"] - 1
    out.seconds = time.monotonic() - began
    return out
