"""Small-claim fast track (小额快赔): who the system may decide without a person. Pure.

`qualify(facts)` answers a `Qualification`: qualified, or every reason it is not (the first is
the one staff read in the queue). A claim qualifies when all of these hold:

- the amount claimed is at or under the version's `fast_track_limit` (claim terms, per product);
- its materials are complete and none is flagged as a duplicate of another claim's;
- the policy is still eligible for it (in force on the incident date, waiting period over…);
- the policy's insurer decides its claims on Huibao (not in its own system through the connector);
- the fraud screen passed (route ``pass``), or an analyst cleared the review it routed to;
- the benefit is calculable from what the claim says (every coverage pays a reimbursement or a
  fixed sum — no days, hours or grade an adjuster must read off a document), nothing refused,
  something payable.

A benefit below the amount claimed (a deductible, a ratio) still qualifies: it is an approval of
the calculated benefit, whose explanation shows every line. A refusal (an exclusion) never does:
only a person denies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_noop


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str  # Chinese, shown to staff (a gettext_noop msgid)


REASONS: dict[str, str] = {
    "over_limit": gettext_noop("申请金额超过小额快赔限额"),
    "materials_incomplete": gettext_noop("理赔材料不齐全"),
    "duplicate_material": gettext_noop("材料与其他案件重复（同一文件或发票号）"),
    "not_eligible": gettext_noop("保单资格校验未通过"),
    "fraud_review": gettext_noop("风控筛查需人工复核"),
    "fraud_block": gettext_noop("风控筛查拦截"),
    "fraud_hold": gettext_noop("风控筛查暂缓：等待关联案件处理完毕"),
    "not_screened": gettext_noop("尚未完成风控筛查"),
    "four_eyes": gettext_noop("赔付金额需第二位理赔员复核"),
    "not_calculable": gettext_noop("赔付金额需人工核定（天数、时长或伤残等级等）"),
    "benefit_refused": gettext_noop("按条款不予赔付，需人工审核"),
    "nothing_payable": gettext_noop("计算后无可赔付金额，需人工审核"),
    "insurer_decides": gettext_noop("该保险公司在其自有系统中审核理赔（已转保险公司）"),
}


def reason(code: str) -> Reason:
    return Reason(code, REASONS[code])


@dataclass(frozen=True, slots=True)
class Facts:
    amount_claimed: Decimal
    fast_track_limit: Decimal
    materials_complete: bool
    duplicate_materials: bool
    eligible: bool
    route: str  # the screen's route: "pass" | "review" | "hold" | "block" | "" (not screened)
    cleared: bool = False  # an analyst cleared the review the screen routed to
    calculable: bool = True
    payable: Decimal | None = None
    refusal: str = ""
    insurer_decides: bool = False  # the insurer decides in its own system (connector mode)


@dataclass(frozen=True, slots=True)
class Qualification:
    reasons: tuple[Reason, ...]

    @property
    def qualified(self) -> bool:
        return not self.reasons

    @property
    def summary(self) -> str:
        return "；".join(r.text for r in self.reasons)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def qualify(facts: Facts) -> Qualification:
    found: list[str] = []
    if facts.insurer_decides:
        found.append("insurer_decides")
    if facts.amount_claimed > facts.fast_track_limit:
        found.append("over_limit")
    if not facts.materials_complete:
        found.append("materials_incomplete")
    if facts.duplicate_materials:
        found.append("duplicate_material")
    if not facts.eligible:
        found.append("not_eligible")
    if facts.route == "block":
        found.append("fraud_block")
    elif facts.route == "hold":
        found.append("fraud_hold")
    elif facts.route == "review" and not facts.cleared:
        found.append("fraud_review")
    elif facts.route not in ("pass", "review"):
        found.append("not_screened")
    if not facts.calculable:
        found.append("not_calculable")
    elif facts.refusal:
        found.append("benefit_refused")
    elif facts.payable is None or facts.payable <= 0:
        found.append("nothing_payable")
    return Qualification(tuple(reason(code) for code in found))


# --- the figures' arithmetic -------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
