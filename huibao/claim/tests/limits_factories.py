"""Builders for the benefit ledger's tests: a bare policy row (no application) and coverages."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from huibao.catalog.claim_terms import BenefitKind, ClaimType, CoverageTerms, DeductibleBasis
from huibao.catalog.tests.factories import PlanFactory
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus

TZ = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def policy(effective: datetime.date = datetime.date(2026, 3, 1)) -> Policy:
    """An in-force policy effective at 00:00 local time on `effective`."""
    plan = PlanFactory()
    version = plan.version
    start = datetime.datetime(effective.year, effective.month, effective.day, tzinfo=TZ)
    n = next(_seq)
    return Policy.objects.create(
        number=f"PCL{n:010d}",
        insurer=version.product.insurer,
        product_version=version,
        plan=plan,
        channel="web",
        status=PolicyStatus.IN_FORCE,
        holder_name="王小明",
        holder_id_hash=f"h{n}",
        insured_name="李春花",
        insured_id_hash=f"i{n}",
        schedule="{}",
        premium=Decimal("300.00"),
        sum_insured=Decimal("10000.00"),
        effective_at=start,
        expires_at=start + datetime.timedelta(days=730),
        issued_at=start,
        retention_until=effective + datetime.timedelta(days=3650),
    )


def medical(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="medical",
        name="一般医疗保险金",
        claim_type=ClaimType.MEDICAL,
        benefit_kind=BenefitKind.REIMBURSEMENT,
        sum_insured=Decimal("10000.00"),
        deductible=Decimal("500.00"),
        deductible_basis=DeductibleBasis.PER_YEAR,
        item_limits={"outpatient": Decimal("3000.00")},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def hospital_cash(**kw: object) -> CoverageTerms:
    """A daily benefit: ¥100 a day, at most 30 days per policy year."""
    base = CoverageTerms(
        code="hospital_cash",
        name="住院津贴保险金",
        claim_type=ClaimType.HOSPITAL_CASH,
        benefit_kind=BenefitKind.DAILY,
        sum_insured=Decimal("3000.00"),
        daily_amount=Decimal("100.00"),
        max_days_per_year=30,
    )
    return replace(base, **kw)  # type: ignore[arg-type]
