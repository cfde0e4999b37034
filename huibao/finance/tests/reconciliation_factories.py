"""Builders for the reconciliation tests: policies made directly (no issuance flow), our side's
ledger lines and commission entries posted directly (the postings are another area's), and
statement files in CSV (UTF-8 or GBK) and Excel."""

from __future__ import annotations

import datetime
import io
import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.catalog.tests.factories import InsurerFactory, PlanFactory, ProductFactory, ProductVersionFactory
from huibao.distribution.models import AgencyEntity, SalesUnit, SalesUnitKind
from huibao.finance import accounts, ledger
from huibao.finance.models import CommissionDirection, CommissionEntry, CommissionEvent
from huibao.policy.models import Policy

_seq = itertools.count(1)
PERIOD = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
DAY = datetime.date(2026, 11, 12)
HEADER = ["保单号", "保费", "手续费", "日期", "业务类型"]


def insurer(**kwargs: Any) -> Insurer:
    return InsurerFactory(**kwargs)


def policy(ins: Insurer, number: str | None = None, premium: str = "1000.00", **kwargs: Any) -> Policy:
    product = ProductFactory(insurer=ins)
    version = ProductVersionFactory(product=product)
    plan = PlanFactory(version=version)
    now = timezone.now()
    return Policy.objects.create(
        number=number or f"P{next(_seq):010d}",
        insurer=ins,
        product_version=version,
        plan=plan,
        channel="web",
        holder_name="王小明",
        holder_id_hash="h" * 64,
        insured_name="李春花",
        insured_id_hash="i" * 64,
        schedule="{}",
        premium=Decimal(premium),
        effective_at=now,
        issued_at=now,
        retention_until=datetime.date(2040, 1, 1),
        **kwargs,
    )


def book_premium(p: Policy, amount: str, on: datetime.date = DAY) -> None:
    """Premium received for `p`, owed to its insurer (a refund when negative)."""
    value = Decimal(amount)
    payable = accounts.premium_payable(p.insurer)
    lines = (
        [ledger.debit(accounts.cash(), value, policy_id=p.pk), ledger.credit(payable, value, policy_id=p.pk)]
        if value > 0
        else [
            ledger.debit(payable, -value, policy_id=p.pk),
            ledger.credit(accounts.cash(), -value, policy_id=p.pk),
        ]
    )
    ledger.post(f"test:premium:{p.pk}:{next(_seq)}", on=on, description="premium", lines=lines)


def commission(
    p: Policy,
    amount: str,
    *,
    on: datetime.date = DAY,
    unit: SalesUnit | None = None,
    event: str = CommissionEvent.ISSUED,
) -> CommissionEntry:
    return CommissionEntry.objects.create(
        key=f"test:commission:{next(_seq)}",
        direction=CommissionDirection.OUTBOUND if unit else CommissionDirection.INBOUND,
        event=event,
        policy=p,
        insurer=p.insurer,
        sales_unit=unit,
        amount=Decimal(amount),
        occurred_on=on,
    )


def channel(code: str = "ch-alpha") -> SalesUnit:
    agency = AgencyEntity.objects.get_or_create(
        code="huibao", defaults={"name": "汇保保险代理有限公司", "licence_number": "L-0001"}
    )[0]
    return SalesUnit.objects.create(
        code=code, name=f"渠道{code}", kind=SalesUnitKind.CHANNEL, path=code, agency=agency
    )


def csv_bytes(
    rows: Sequence[Sequence[object]], *, header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: Sequence[Sequence[object]], *, header: Sequence[str] = HEADER, title_rows: int = 0
) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for n in range(title_rows):
        sheet.append([f"标题{n + 1}"])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
