"""Is this claim covered, as far as the data shows at report time (first notice of loss)?

Pure: no ORM, no I/O. The use-case gathers the facts (`Facts`: the policy's state on the incident
date, when continuous cover began, the claim terms) and `check` answers every problem found,
each naming the field it concerns, and the explanation lines the customer reads when it passes.

Messages and lines are in the active language (gettext: Chinese by default, English when the
customer chose it); product data quoted in them (a coverage's name, an exclusion's text) stays as
the product defines it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
    lines: tuple[str, ...]  # what passed, in the active language
    coverages: tuple[CoverageTerms, ...]  # the coverages the claim is made under

    @property
    def ok(self) -> bool:
        return not self.problems


def waiting_ends(coverage: CoverageTerms, continuous_since: datetime.date) -> datetime.date:
    """The first day covered after the waiting period (a renewal starts none: the chain's start)."""
    return continuous_since + datetime.timedelta(days=coverage.waiting_period_days)


def _d(day: datetime.date) -> str:
    return _("%(year)d年%(month)d月%(day)d日") % {"year": day.year, "month": day.month, "day": day.day}


def _list(items: list[str] | tuple[str, ...]) -> str:
    return _("、").join(items)


def check(facts: Facts) -> Eligibility:
    problems: list[FieldError] = []
    lines: list[str] = []
    terms = facts.terms
    if facts.amount is not None and facts.amount <= 0:
        problems.append(FieldError("amount_claimed", "amount_not_positive", _("索赔金额须大于0元")))
    if facts.incident_date > facts.reported_on:
        problems.append(FieldError("incident_date", "incident_in_future", _("出险日期不能晚于今天")))
    if facts.claim_type is None or facts.claim_type not in terms.claim_types():
        allowed = _list([str(CLAIM_TYPE_LABELS.get(t, t.value)) for t in terms.claim_types()]) or _("无")
        problems.append(
            FieldError(
                "claim_type",
                "claim_type_not_covered",
                _("本保单不保障该理赔类型（可选：%(allowed)s）") % {"allowed": allowed},
            )
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
                    _("保障责任不在本保单该类型内：%(codes)s") % {"codes": _list(unknown)},
                )
            )
        chosen = tuple(c for c in chosen if c.code in facts.coverage_codes)
    if facts.incident_date <= facts.reported_on:
        if not facts.covered_on_incident:
            state = (
                _("（当日保单状态：%(state)s）") % {"state": facts.state_label}
                if facts.state_label
                else _("（当日保单尚未生效）")
            )
            period = (
                _("%(start)s至%(end)s") % {"start": _d(facts.effective_on), "end": _d(facts.expires_on)}
                if facts.expires_on
                else _("%(start)s起") % {"start": _d(facts.effective_on)}
            )
            problems.append(
                FieldError(
                    "incident_date",
                    "policy_not_in_force",
                    _("出险日期%(date)s不在保障期间内%(state)s，保险期间为%(period)s")
                    % {"date": _d(facts.incident_date), "state": state, "period": period},
                )
            )
        else:
            lines.append(_("出险日期%(date)s在保障期间内") % {"date": _d(facts.incident_date)})
        if terms.report_within_days:
            late = (facts.reported_on - facts.incident_date).days
            if late > terms.report_within_days:
                problems.append(
                    FieldError(
                        "incident_date",
                        "reported_too_late",
                        _("本产品须在出险后%(days)d日内报案，已过%(late)d日")
                        % {"days": terms.report_within_days, "late": late},
                    )
                )
            else:
                lines.append(_("在出险后%(days)d日的报案时限内") % {"days": terms.report_within_days})
    waiting_passed = [c for c in chosen if facts.incident_date >= waiting_ends(c, facts.continuous_since)]
    if chosen and not waiting_passed:
        first = min(chosen, key=lambda c: waiting_ends(c, facts.continuous_since))
        problems.append(
            FieldError(
                "incident_date",
                "in_waiting_period",
                _("出险日期在等待期内：%(coverage)s等待期%(days)d天，%(date)s起才可理赔")
                % {
                    "coverage": first.name,
                    "days": first.waiting_period_days,
                    "date": _d(waiting_ends(first, facts.continuous_since)),
                },
            )
        )
    elif chosen and any(c.waiting_period_days for c in chosen):
        renewal = (
            _("（续保保单连续保障，不重新计算等待期）") if facts.continuous_since < facts.effective_on else ""
        )
        lines.append(_("等待期已过%(renewal)s") % {"renewal": renewal})
    chosen = tuple(waiting_passed) if waiting_passed else chosen
    if facts.cause:
        for coverage in chosen:
            hit = next((e for e in coverage.exclusions if e.cause == facts.cause), None)
            if hit is not None:
                clause = f"（{hit.clause}）" if hit.clause else ""
                problems.append(FieldError("cause_code", "excluded_cause", f"{hit.text}{clause}"))
                break
    if chosen and not problems:
        lines.append(_("适用保障责任：%(coverages)s") % {"coverages": _list([c.name for c in chosen])})
    return Eligibility(tuple(problems), tuple(lines), chosen)


T = ClaimType
# Lazy: each read answers in the active language; `str()` them before joining or serialising.
CLAIM_TYPE_LABELS: dict[ClaimType, Promise] = {
    T.MEDICAL: gettext_lazy("医疗费用报销"),
    T.HOSPITAL_CASH: gettext_lazy("住院津贴"),
    T.ACCIDENT: gettext_lazy("意外身故/伤残"),
    T.CRITICAL_ILLNESS: gettext_lazy("重疾确诊"),
    T.DEATH: gettext_lazy("身故/全残"),
    T.TRAVEL_DELAY: gettext_lazy("旅行/航班延误"),
    T.BAGGAGE: gettext_lazy("行李及随身财产"),
    T.PHONE_SCREEN: gettext_lazy("手机碎屏"),
    T.PET_MEDICAL: gettext_lazy("宠物医疗"),
    T.HOME_DAMAGE: gettext_lazy("家财损失"),
    T.AUTO: gettext_lazy("车险理赔"),
    T.RETURN_SHIPPING: gettext_lazy("退货运费"),
    T.ACCOUNT_FRAUD: gettext_lazy("账户盗刷"),
    T.OTHER: gettext_lazy("其他"),
}

MATERIAL_LABELS: dict[MaterialKind, Promise] = {
    MaterialKind.ID_CARD: gettext_lazy("身份证"),
    MaterialKind.BANK_CARD: gettext_lazy("银行卡"),
    MaterialKind.INVOICE: gettext_lazy("发票"),
    MaterialKind.EXPENSE_LIST: gettext_lazy("费用清单"),
    MaterialKind.DIAGNOSIS: gettext_lazy("诊断证明"),
    MaterialKind.DISCHARGE_SUMMARY: gettext_lazy("出院小结"),
    MaterialKind.PATHOLOGY: gettext_lazy("病理报告"),
    MaterialKind.DISABILITY_APPRAISAL: gettext_lazy("伤残鉴定书"),
    MaterialKind.DEATH_CERTIFICATE: gettext_lazy("死亡证明"),
    MaterialKind.POLICE_REPORT: gettext_lazy("报警回执/事故认定书"),
    MaterialKind.AIRLINE_CERTIFICATE: gettext_lazy("航班延误证明"),
    MaterialKind.BOARDING_PASS: gettext_lazy("登机牌"),
    MaterialKind.PHOTO: gettext_lazy("现场/损失照片"),
    MaterialKind.REPAIR_QUOTE: gettext_lazy("维修报价单"),
    MaterialKind.OTHER: gettext_lazy("其他证明材料"),
}
