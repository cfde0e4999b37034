"""The sandbox insurer's statement (对账单): what a real insurer sends back at month end, made from
the platform's own records with the differences real statements have.

`statement_lines(insurer, period)` reads our side (premium-payable ledger lines with the policy
dimension, inbound commission entries) and returns the insurer's version of it: two amounts off
by a fen of rounding, one policy's commission at a different rate, one policy left out, one
policy we never issued, and a policy cancelled in the month still listed at its original amounts.
`write_csv` (GBK, thousands separators) and `write_xlsx` (a title row above the header,
negatives in parentheses) write the file as the insurer's system would; `load_demo_reconciliation`
gives the demo a month imported with its differences open for finance to resolve.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core.money import to_fen
from huibao.finance import accounts, ledger
from huibao.finance import reconciliation as recon
from huibao.finance import reconciliation_rules as rules
from huibao.finance.models import (
    CommissionDirection,
    CommissionEntry,
    CommissionEvent,
    JournalLine,
    LedgerAccount,
    Reconciliation,
)
from huibao.policy import schedule as schedule_mod
from huibao.policy.models import Policy

CSV_HEADER = ("保单号", "险种", "保费", "手续费", "业务日期", "业务类型")
MAPPING = recon.MappingSpec(
    columns={
        "policy_number": "保单号",
        "premium": "保费",
        "commission": "手续费",
        "date": "业务日期",
        "event": "业务类型",
    },
    header_row=1,
)
XLSX_MAPPING = replace(MAPPING, header_row=2)


@dataclass(frozen=True, slots=True)
class TheirLine:
    policy_number: str
    product: str
    premium: Decimal
    commission: Decimal
    occurred_on: datetime.date
    event: str
    note: str = ""  # which difference it carries (for the demo's story and the tests), not written


def _our_side(insurer: Insurer, period: tuple[datetime.date, datetime.date]) -> dict[int, dict[str, Any]]:
    start, end = period
    side: dict[int, dict[str, Any]] = {}
    account = LedgerAccount.objects.filter(code=accounts.premium_payable(insurer).code).first()
    if account is not None:
        for row in (
            JournalLine.objects.filter(account=account, posted_on__range=period, policy__isnull=False)
            .values("policy_id")
            .annotate(c=Sum("credit"), d=Sum("debit"))
        ):
            side.setdefault(row["policy_id"], {})["premium"] = (row["c"] or 0) - (row["d"] or 0)
            side[row["policy_id"]]["gross_premium"] = row["c"] or Decimal("0")
    for entry_row in (
        CommissionEntry.objects.filter(
            insurer=insurer,
            direction=CommissionDirection.INBOUND,
            occurred_on__range=(start, end),
            policy__isnull=False,
        )
        .values("policy_id")
        .annotate(total=Sum("amount"), gross=Sum("amount", filter=Q(amount__gt=0)))
    ):
        entry = side.setdefault(entry_row["policy_id"], {})
        entry["commission"] = entry_row["total"]
        entry["gross_commission"] = entry_row["gross"] or Decimal("0")
    return side


def statement_lines(
    insurer: Insurer, period: tuple[datetime.date, datetime.date], *, seed: int = 12
) -> list[TheirLine]:
    """The insurer's statement for `period`, with realistic differences (deterministic by seed)."""
    side = _our_side(insurer, period)
    policies = {
        p.pk: p
        for p in Policy.objects.filter(pk__in=side)
        .select_related("product_version__product")
        .only("number", "issued_at", "product_version__product__name")
    }
    rng = random.Random(seed)
    ordered = sorted(side, key=lambda pk: policies[pk].number)
    lines: list[TheirLine] = []
    cancelled = [pk for pk in ordered if side[pk].get("premium", 0) <= 0 < side[pk].get("gross_premium", 0)]
    normal = [pk for pk in ordered if pk not in cancelled]
    rng.shuffle(normal)
    missing = set(normal[:1])
    rounding = set(normal[1:3])
    other_rate = set(normal[3:4])
    for pk in ordered:
        p = policies[pk]
        ours = side[pk]
        day = min(max(timezone.localtime(p.issued_at).date(), period[0]), period[1])
        premium = to_fen(Decimal(ours.get("premium", 0)))
        commission = to_fen(Decimal(ours.get("commission", 0)))
        note = ""
        if pk in missing:
            continue
        if pk in cancelled:
            premium = to_fen(Decimal(ours.get("gross_premium", 0)))
            commission = to_fen(Decimal(ours.get("gross_commission", 0)))
            note = "cancelled_still_listed"
        elif pk in rounding:
            premium += Decimal("0.01")
            note = "rounding"
        elif pk in other_rate and premium > 0:
            # The insurer applied its rate two points lower than the agreement's.
            commission = to_fen(commission - premium * Decimal("0.02"))
            note = "other_rate"
        lines.append(
            TheirLine(p.number, p.product_version.product.name, premium, commission, day, "承保", note)
        )
    never = f"{insurer.code.upper()[:6]}-X{rng.randrange(10**8, 10**9)}"
    lines.append(
        TheirLine(
            never,
            "团体意外险",
            Decimal("880.00"),
            Decimal("132.00"),
            period[0] + datetime.timedelta(days=9),
            "承保",
            "never_issued",
        )
    )
    return lines


def _amount(value: Decimal, *, parentheses: bool) -> str:
    text = f"{abs(value):,.2f}"
    if value < 0:
        return f"({text})" if parentheses else f"-{text}"
    return text


def write_csv(lines: Sequence[TheirLine]) -> bytes:
    """GBK (what most insurers' core systems export), amounts with thousands separators."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(
            [
                line.policy_number,
                line.product,
                _amount(line.premium, parentheses=False),
                _amount(line.commission, parentheses=False),
                f"{line.occurred_on:%Y-%m-%d}",
                line.event,
            ]
        )
    return out.getvalue().encode("gb18030")


def write_xlsx(lines: Sequence[TheirLine], *, title: str) -> bytes:
    """A title row, the header on row 2, amounts as text with negatives in parentheses."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("手续费结算清单")
    sheet.append([title])
    sheet.append(list(CSV_HEADER))
    for line in lines:
        sheet.append(
            [
                line.policy_number,
                line.product,
                _amount(line.premium, parentheses=True),
                _amount(line.commission, parentheses=True),
                line.occurred_on,
                line.event,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def statement_file(insurer: Insurer, month: str, fmt: str = "csv", *, seed: int = 12) -> bytes:
    period = rules.parse_month(month)
    lines = statement_lines(insurer, period, seed=seed)
    if fmt == "xlsx":
        return write_xlsx(lines, title=f"{insurer.name} 手续费结算清单 {period[0]:%Y年%m月}")
    return write_csv(lines)


# --- demo ---------------------------------------------------------------------------------------

DEMO_PREFIX = "DEMO-RC"
DEMO_POLICIES = 24
DEMO_RATE = Decimal("0.15")


def _demo_book(insurer: Insurer, period: tuple[datetime.date, datetime.date], template: Policy) -> None:
    """Our side of the demo month: policies sold in it with their premium and commission booked
    (made here only for numbers that have none: the demo's own agency sales)."""
    rng = random.Random(2026)
    for n in range(1, DEMO_POLICIES + 1):
        number = f"{DEMO_PREFIX}-{insurer.code.upper()[:6]}-{period[0]:%Y%m}-{n:03d}"
        day = period[0] + datetime.timedelta(days=rng.randrange(0, (period[1] - period[0]).days + 1))
        at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 0)))
        premium = to_fen(Decimal(rng.randrange(30_000, 600_000)) / 100)
        # The template's frozen schedule, as this policy's (its e-policy renders from it).
        data = schedule_mod.loads(template.schedule)
        data.update(number=number, issued_at=at.isoformat(), effective_at=at.isoformat())
        data["holder"] = {**data.get("holder", {}), "name": f"演示投保人{n}"}
        data["insured"] = {**data.get("insured", {}), "name": f"演示被保险人{n}"}
        data["premium"] = {**data.get("premium", {}), "premium": str(premium)}
        policy, created = Policy.objects.get_or_create(
            number=number,
            defaults={
                "insurer": insurer,
                "product_version": template.product_version,
                "plan": template.plan,
                "channel": "agent",
                "holder_name": f"演示投保人{n}",
                "holder_id_hash": f"{n:064d}",
                "insured_name": f"演示被保险人{n}",
                "insured_id_hash": f"{n:064d}",
                "schedule": schedule_mod.dumps(data),
                "premium": premium,
                "effective_at": at,
                "issued_at": at,
                "retention_until": day.replace(year=day.year + 10),
                "status": "in_force",
            },
        )
        payable = accounts.premium_payable(insurer)
        ledger.post(
            f"demo:recon:premium:{number}",
            on=day,
            description=f"保费收入 {number}",
            lines=[
                ledger.debit(accounts.cash(), policy.premium, policy_id=policy.pk),
                ledger.credit(payable, policy.premium, policy_id=policy.pk),
            ],
        )
        commission = to_fen(policy.premium * DEMO_RATE)
        CommissionEntry.objects.get_or_create(
            key=f"demo:recon:commission:{number}",
            defaults={
                "direction": CommissionDirection.INBOUND,
                "event": CommissionEvent.ISSUED,
                "policy": policy,
                "insurer": insurer,
                "base": policy.premium,
                "rate": DEMO_RATE,
                "amount": commission,
                "occurred_on": day,
                "explanation": {"rule": "demo", "rate": str(DEMO_RATE), "base": str(policy.premium)},
            },
        )
        if n == DEMO_POLICIES:  # cancelled in its cooling-off period, in the same month
            later = min(day + datetime.timedelta(days=3), period[1])
            ledger.post(
                f"demo:recon:refund:{number}",
                on=later,
                description=f"犹豫期退保 {number}",
                lines=[
                    ledger.debit(payable, policy.premium, policy_id=policy.pk),
                    ledger.credit(accounts.cash(), policy.premium, policy_id=policy.pk),
                ],
            )
            CommissionEntry.objects.get_or_create(
                key=f"demo:recon:clawback:{number}",
                defaults={
                    "direction": CommissionDirection.INBOUND,
                    "event": CommissionEvent.CANCELLATION,
                    "policy": policy,
                    "insurer": insurer,
                    "amount": -commission,
                    "occurred_on": later,
                    "explanation": {"rule": "demo", "clawback": "full, cooling-off"},
                },
            )
            if created:
                Policy.objects.filter(pk=policy.pk).update(status="cancelled_cooling_off")


def load_demo_reconciliation(*, today: datetime.date | None = None) -> Reconciliation | None:
    """Last month's statement of the demo's busiest insurer, imported with its differences open
    (idempotent: a month already imported is left as it is)."""
    today = today or timezone.localdate()
    last = today.replace(day=1) - datetime.timedelta(days=1)
    period = rules.month_period(last.year, last.month)
    template = Policy.objects.select_related("insurer").order_by("id").first()
    if template is None:
        return None
    insurer = template.insurer
    existing = Reconciliation.objects.filter(insurer=insurer, period_start=period[0]).first()
    if existing is not None:
        return existing
    from huibao.account.models import User

    clerk = User.objects.filter(username="finance").first()
    with transaction.atomic():
        _demo_book(insurer, period, template)
        data = statement_file(insurer, f"{period[0]:%Y-%m}", "csv")
        return recon.import_statement(
            recon.Party.of_insurer(insurer),
            period,
            f"{insurer.code}-{period[0]:%Y%m}-statement.csv",
            io.BytesIO(data),
            spec=MAPPING,
            actor=clerk,
        )
