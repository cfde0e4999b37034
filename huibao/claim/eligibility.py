"""Is this claim covered, as far as the data shows at report time (first notice of loss)?

Pure: no ORM, no I/O. The use-case gathers the facts (`Facts`: the policy's state on the incident
date, when continuous cover began, the claim terms) and `check` answers every problem found,
each naming the field it concerns, and the explanation lines the customer reads when it passes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from huibao.catalog.claim_terms import ClaimTerms, ClaimType, CoverageTerms, MaterialKind
from huibao.core.errors import FieldError


@dataclass(frozen=True, slots=True)
class Facts:
    terms: ClaimTerms
    claim_type: ClaimType | None
    coverage_codes: tuple[str, ...]  # chosen; () = every coverage of the claim type
    incident_date: datetime.date
    reported_on: datetime.date
    covered_on_incident: bool  # the policy covered the insured that day (in force, grace…)
    state_label: str  # the policy's status that day, as shown ("" before it existed)
    effective_on: datetime.date  # start of this policy
    continuous_since: datetime.date  # start of the first policy a renewal chain continues
    expires_on: datetime.date | None
    cause: str = ""
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    problems: tuple[FieldError, ...]
    lines: tuple[str, ...]  # what passed, in Chinese
    coverages: tuple[CoverageTerms, ...]  # the coverages the claim is made under

    @property
    def ok(self) -> bool:
        return not self.problems


def waiting_ends(coverage: CoverageTerms, continuous_since: datetime.date) -> datetime.date:
    """The first day covered after the waiting period (a renewal starts none: the chain's start)."""
    return continuous_since + datetime.timedelta(days=coverage.waiting_period_days)


def _d(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def check(facts: Facts) -> Eligibility:
    problems: list[FieldError] = []
    lines: list[str] = []
    terms = facts.terms
    if facts.amount is not None and facts.amount <= 0:
        problems.append(FieldError("amount_claimed", "amount_not_positive", "索赔金额须大于0元"))
    if facts.incident_date > facts.reported_on:
        problems.append(FieldError("incident_date", "incident_in_future", "出险日期不能晚于今天"))
    if facts.claim_type is None or facts.claim_type not in terms.claim_types():
        allowed = "、".join(CLAIM_TYPE_LABELS.get(t, t.value) for t in terms.claim_types()) or "无"
        problems.append(
            FieldError("claim_type", "claim_type_not_covered", f"本保单不保障该理赔类型（可选：{allowed}）")
        )
        return Eligibility(tuple(problems), tuple(lines), ())
    chosen = terms.coverages_of(facts.claim_type)
    if facts.coverage_codes:
        unknown = [c for c in facts.coverage_codes if c not in {x.code for x in chosen}]
        if unknown:
            problems.append(
                FieldError(
                    "coverage_codes",
                    "coverage_not_in_policy",
                    f"保障责任不在本保单该类型内：{'、'.join(unknown)}",
                )
            )
        chosen = tuple(c for c in chosen if c.code in facts.coverage_codes)
    if facts.incident_date <= facts.reported_on:
        if not facts.covered_on_incident:
            state = f"（当日保单状态：{facts.state_label}）" if facts.state_label else "（当日保单尚未生效）"
            period = _d(facts.effective_on) + (f"至{_d(facts.expires_on)}" if facts.expires_on else "起")
            problems.append(
                FieldError(
                    "incident_date",
                    "policy_not_in_force",
                    f"出险日期{_d(facts.incident_date)}不在保障期间内{state}，保险期间为{period}",
                )
            )
        else:
            lines.append(f"出险日期{_d(facts.incident_date)}在保障期间内")
        if terms.report_within_days:
            late = (facts.reported_on - facts.incident_date).days
            if late > terms.report_within_days:
                problems.append(
                    FieldError(
                        "incident_date",
                        "reported_too_late",
                        f"本产品须在出险后{terms.report_within_days}日内报案，已过{late}日",
                    )
                )
            else:
                lines.append(f"在出险后{terms.report_within_days}日的报案时限内")
    waiting_passed = [c for c in chosen if facts.incident_date >= waiting_ends(c, facts.continuous_since)]
    if chosen and not waiting_passed:
        first = min(chosen, key=lambda c: waiting_ends(c, facts.continuous_since))
        problems.append(
            FieldError(
                "incident_date",
                "in_waiting_period",
                f"出险日期在等待期内：{first.name}等待期{first.waiting_period_days}天，"
                f"{_d(waiting_ends(first, facts.continuous_since))}起才可理赔",
            )
        )
    elif chosen and any(c.waiting_period_days for c in chosen):
        renewal = (
            "（续保保单连续保障，不重新计算等待期）" if facts.continuous_since < facts.effective_on else ""
        )
        lines.append(f"等待期已过{renewal}")
    chosen = tuple(waiting_passed) if waiting_passed else chosen
    if facts.cause:
        for coverage in chosen:
            hit = next((e for e in coverage.exclusions if e.cause == facts.cause), None)
            if hit is not None:
                clause = f"（{hit.clause}）" if hit.clause else ""
                problems.append(FieldError("cause_code", "excluded_cause", f"{hit.text}{clause}"))
                break
    if chosen and not problems:
        lines.append("适用保障责任：" + "、".join(c.name for c in chosen))
    return Eligibility(tuple(problems), tuple(lines), chosen)


T = ClaimType
CLAIM_TYPE_LABELS: dict[ClaimType, str] = {
    T.MEDICAL: "医疗费用报销",
    T.HOSPITAL_CASH: "住院津贴",
    T.ACCIDENT: "意外身故/伤残",
    T.CRITICAL_ILLNESS: "重疾确诊",
    T.DEATH: "身故/全残",
    T.TRAVEL_DELAY: "旅行/航班延误",
    T.BAGGAGE: "行李及随身财产",
    T.PHONE_SCREEN: "手机碎屏",
    T.PET_MEDICAL: "宠物医疗",
    T.HOME_DAMAGE: "家财损失",
    T.AUTO: "车险理赔",
    T.RETURN_SHIPPING: "退货运费",
    T.ACCOUNT_FRAUD: "账户盗刷",
    T.OTHER: "其他",
}

MATERIAL_LABELS: dict[MaterialKind, str] = {
    MaterialKind.ID_CARD: "身份证",
    MaterialKind.BANK_CARD: "银行卡",
    MaterialKind.INVOICE: "发票",
    MaterialKind.EXPENSE_LIST: "费用清单",
    MaterialKind.DIAGNOSIS: "诊断证明",
    MaterialKind.DISCHARGE_SUMMARY: "出院小结",
    MaterialKind.PATHOLOGY: "病理报告",
    MaterialKind.DISABILITY_APPRAISAL: "伤残鉴定书",
    MaterialKind.DEATH_CERTIFICATE: "死亡证明",
    MaterialKind.POLICE_REPORT: "报警回执/事故认定书",
    MaterialKind.AIRLINE_CERTIFICATE: "航班延误证明",
    MaterialKind.BOARDING_PASS: "登机牌",
    MaterialKind.PHOTO: "现场/损失照片",
    MaterialKind.REPAIR_QUOTE: "维修报价单",
    MaterialKind.OTHER: "其他证明材料",
}
