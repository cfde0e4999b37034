"""Demo commission plans: an inbound plan (手续费政策) per demo insurer with realistic rates per
line, outbound plans (佣金政策) for every unit of the demo hierarchy within the margin, and the
commission entries of the demo's policies (backfilled). Idempotent: what exists is kept."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from typing import Any

from django.db import transaction

from huibao.catalog.models import Insurer, Product
from huibao.core.money import to_fen
from huibao.distribution.models import SalesUnit, SalesUnitKind
from huibao.finance import commission_plans, commissions
from huibao.finance.commission_models import CommissionPlan
from huibao.finance.models import CommissionEntry
from huibao.policy.models import Policy

D = Decimal
SINCE = datetime.date(2020, 1, 1)

# line: (first-year rate range, renewal-year rate range) — of the net premium; the market's usual
# figures for online sales: short-term accident 20–40%, medical 15–30%, critical illness 40–80%
# the first year then 5–15%, term life 35–60% then 5–10%. Renewal business of a short-term
# product (its renewal policies) earns a little less than new business.
LINE_RATES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "accident": (("0.20", "0.40"), ("0.18", "0.30")),
    "travel": (("0.25", "0.35"), ("0.20", "0.30")),
    "medical": (("0.15", "0.30"), ("0.12", "0.22")),
    "critical_illness": (("0.40", "0.80"), ("0.05", "0.15")),
    "term_life": (("0.35", "0.60"), ("0.05", "0.10")),
    "whole_life": (("0.30", "0.50"), ("0.04", "0.08")),
    "auto_compulsory": (("0.04", "0.04"), ("0.04", "0.04")),
    "auto_commercial": (("0.15", "0.25"), ("0.15", "0.25")),
    "home_property": (("0.25", "0.35"), ("0.22", "0.30")),
    "return_shipping": (("0.10", "0.15"), ("0.10", "0.15")),
    "phone_screen": (("0.20", "0.30"), ("0.18", "0.25")),
    "pet": (("0.20", "0.30"), ("0.18", "0.25")),
    "account_security": (("0.25", "0.35"), ("0.20", "0.30")),
}
# Flight delay is paid per policy: a fixed 5–8 yuan.
FIXED_LINES: dict[str, tuple[str, str]] = {"flight_delay": ("5", "8")}
# What each kind of unit is paid, as a share of the lowest inbound rate of the line (so that no
# chain — agent + team + branch overrides, or sub-channel + channel — pays more than it earns).
OUTBOUND_SHARE: dict[str, Decimal] = {
    SalesUnitKind.AGENT: D("0.45"),
    SalesUnitKind.TEAM: D("0.05"),
    SalesUnitKind.BRANCH: D("0.03"),
    SalesUnitKind.CHANNEL: D("0.50"),
    SalesUnitKind.SUBCHANNEL: D("0.20"),
}


def _pick(low: str, high: str, seed: str) -> Decimal:
    """A deterministic rate in [low, high] per insurer and line, to the percent."""
    span = D(high) - D(low)
    x = int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return (D(low) + span * D(str(round(x, 2)))).quantize(D("0.01"))


def _inbound_rules(insurer: Insurer, lines: list[str]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for line in lines:
        if line in FIXED_LINES:
            low, high = FIXED_LINES[line]
            rules.append(
                {
                    "line": line,
                    "basis": "fixed",
                    "fixed_amount": str(_pick(low, high, insurer.code + line)),
                    "and_later": True,
                }
            )
            continue
        if line not in LINE_RATES:
            continue
        first, renewal = LINE_RATES[line]
        rule: dict[str, Any] = {"line": line, "rate": str(_pick(*first, insurer.code + line))}
        if line == "accident":
            # a volume tier: +3 points once the month's premium passes ¥1,000,000
            rule["tiers"] = [{"threshold": "1000000", "rate": str(D(rule["rate"]) + D("0.03"))}]
        rules.append(rule)
        rules.append(
            {
                "line": line,
                "rate": str(_pick(*renewal, insurer.code + line + "n")),
                "year": 2,
                "and_later": True,
            }
        )
    return rules


def load_demo_commission() -> dict[str, int]:
    """Loads the demo plans (once) and books the entries of policies not booked yet."""
    made = {"inbound": 0, "outbound": 0, "entries": 0}
    lowest: dict[tuple[str, int], Decimal] = {}
    with transaction.atomic():
        for insurer in Insurer.objects.filter(is_active=True).order_by("code"):
            lines = sorted(set(Product.objects.filter(insurer=insurer).values_list("line", flat=True)))
            rules = _inbound_rules(insurer, lines)
            for rule in rules:
                key = (rule["line"], int(rule.get("year", 1)))
                value = D(str(rule.get("rate") or rule.get("fixed_amount") or "0"))
                lowest[key] = min(lowest.get(key, value), value)
            code = f"in-{insurer.code}"
            if not rules or CommissionPlan.objects.filter(code=code).exists():
                continue
            version = commission_plans.create_plan(
                code=code,
                name=f"{insurer.short_name}手续费政策",
                direction="inbound",
                valid_from=SINCE,
                insurer=insurer,
            )
            version.targets = [
                {"premium": "5000000", "bonus": "50000"},
                {"premium": "20000000", "bonus": "250000"},
            ]
            version.save(update_fields=["targets"])
            for rule in rules:
                commission_plans.add_rule(version, rule)
            commission_plans.publish(version)
            made["inbound"] += 1
        # outbound, parents first (a child's margin check sums its parents' plans)
        for unit in (
            SalesUnit.objects.filter(is_active=True).exclude(kind=SalesUnitKind.AGENCY).order_by("path")
        ):
            share = OUTBOUND_SHARE.get(unit.kind)
            code = f"out-{unit.code}"[:48]
            if share is None or CommissionPlan.objects.filter(code=code).exists():
                continue
            version = commission_plans.create_plan(
                code=code,
                name=f"{unit.name}佣金政策",
                direction="outbound",
                valid_from=SINCE,
                sales_unit=unit,
            )
            for (line, year), low in sorted(lowest.items()):
                data: dict[str, Any] = {"line": line, "year": year, "and_later": True}
                if line in FIXED_LINES:
                    data.update(basis="fixed", fixed_amount=str(to_fen(low * share)))
                else:
                    data["rate"] = str((low * share).quantize(D("0.0001")))
                commission_plans.add_rule(version, data)
            commission_plans.publish(version)
            made["outbound"] += 1
    pending = Policy.objects.exclude(
        number__in=CommissionEntry.objects.filter(event="issued", direction="inbound").values_list(
            "policy__number", flat=True
        )
    ).select_related("insurer", "product_version__product", "seller", "application")
    for policy in pending.iterator(chunk_size=500):
        with transaction.atomic():
            made["entries"] += commissions.backfill([policy])
    return made
