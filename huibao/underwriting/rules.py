"""Automated underwriting (智能核保): the rules of a product version, as data, applied to the facts
of one insured person. Pure functions and frozen dataclasses: no ORM, no I/O.

The rules live in `ProductVersion.underwriting` (format in `docs/underwriting.md`)::

    {"questions": {"<health question code>": {
         "on_yes": "decline"|"refer"|"loading"|"exclusion"|"accept",
         "loading_percent": "25", "exclusion": "text", "reason": "text"}},
     "max_age": 60, "min_age_days": 30,
     "sum_insured_limits": [{"min_age": 0, "max_age": 17, "max_sum_insured": "500000", "reason": "…"}],
     "aggregate_limits": [{"benefit": "death", "max_age": 9, "limit": "200000", "reason": "…"}],
     "refer_sum_insured_above": "1000000", "refer_age_above": 55, "refer_premium_above": "20000"}

`on_yes` is what happens when the insured gives a question's adverse answer — its
`knock_out_answer` ("是" for every question phrased "是否曾…"). A question the rules do not list
keeps its knock-out meaning: the adverse answer declines.

Severity: decline beats refer beats terms (loading / exclusion) beats accept. Every rule that
fires gives a `Reason` with a Chinese message; loadings add up; exclusions are listed in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from huibao.catalog.rules import questions_for
from huibao.core.benefits import is_death_coverage
from huibao.core.errors import FieldError, ValidationFailed

Outcome = Literal["accept", "accept_with_terms", "refer", "decline"]
OUTCOMES: tuple[Outcome, ...] = ("accept", "accept_with_terms", "refer", "decline")
SEVERITY: dict[str, int] = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}
QUESTION_ACTIONS = ("decline", "refer", "loading", "exclusion", "accept")
BENEFITS = ("death",)
LIMIT_ACTIONS = ("decline", "refer")
# The largest total loading an automatic decision or an underwriter may set (percent).
MAX_LOADING_PERCENT = Decimal(300)
MAX_AGE = 120
ZERO = Decimal(0)

TOP_LEVEL_KEYS = frozenset(
    {
        "questions",
        "max_age",
        "min_age_days",
        "sum_insured_limits",
        "aggregate_limits",
        "refer_sum_insured_above",
        "refer_age_above",
        "refer_premium_above",
    }
)
QUESTION_KEYS = frozenset({"on_yes", "loading_percent", "exclusion", "reason"})
SUM_LIMIT_KEYS = frozenset({"min_age", "max_age", "max_sum_insured", "reason", "action"})
AGGREGATE_KEYS = frozenset({"benefit", "min_age", "max_age", "limit", "reason"})


# --- facts and decisions ---------------------------------------------------------------------


@dataclass(frozen=True)
class UnderwritingFacts:
    """What the rules look at for one item (one product for one insured person)."""

    product_code: str
    line: str
    age_days: int
    age_years: int
    sex: str
    relation: str
    occupation_class: int | None
    sum_insured: Decimal | None
    death_benefit: Decimal  # this item's
    # In force on the platform for this insured, plus earlier items of the same application.
    existing_death_benefit: Decimal
    health_answers: Mapping[str, bool]
    premium: Decimal


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    question: str = ""

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "question": self.question}


@dataclass(frozen=True)
class UnderwritingDecision:
    """The outcome and why. `loading_percent` and `exclusions` are the terms the rules set: they
    apply for `accept_with_terms`, are the suggested terms of a `refer`, and are empty for a
    `decline`."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    loading_percent: Decimal
    exclusions: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": [r.as_json() for r in self.reasons],
            "loading_percent": _plain(self.loading_percent),
            "exclusions": list(self.exclusions),
        }


def worst(outcomes: Iterable[str]) -> Outcome:
    """The most severe of `outcomes` (accept when there are none)."""
    result: Outcome = "accept"
    for outcome in outcomes:
        if SEVERITY[outcome] > SEVERITY[result]:
            result = OUTCOMES[SEVERITY[outcome]]
    return result


# --- formatting ------------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    """'25.00' → '25', '12.50' → '12.5'."""
    text = format(value.normalize(), "f")
    return text


def yuan(amount: Decimal) -> str:
    """An amount as Chinese readers expect it: 200000 → '20万元', 1500 → '1500元'."""
    if amount >= 10_000 and amount % 1_000 == 0:
        return f"{_plain(amount / 10_000)}万元"
    return f"{_plain(amount)}元"


def _age_text(days: int) -> str:
    if days >= 365 and days % 365 == 0:
        return f"{days // 365}周岁"
    return f"出生满{days}天"


def _answer_text(answer: bool) -> str:
    return "是" if answer else "否"


# --- evaluation ------------------------------------------------------------------------------


def _amount(value: Any) -> Decimal:
    return Decimal(str(value))


def _in_age_range(limit: Mapping[str, Any], age: int) -> bool:
    return int(limit.get("min_age", 0)) <= age <= int(limit.get("max_age", MAX_AGE))


def evaluate(
    rules: Mapping[str, Any], eligibility: Mapping[str, Any], facts: UnderwritingFacts
) -> UnderwritingDecision:
    """The decision for one item. Every health question of `eligibility` must be answered
    (`ValidationFailed` naming `health_answers.<code>` otherwise)."""
    rules = rules or {}
    eligibility = eligibility or {}
    # Only the questions asked of the insured person's sex (目前是否怀孕 is not asked of a man).
    questions = questions_for(eligibility.get("health_questions") or [], facts.sex or None)
    missing = [
        FieldError(f"health_answers.{q['code']}", "required", f"请回答健康告知：{q.get('text', q['code'])}")
        for q in questions
        if not isinstance(facts.health_answers.get(str(q["code"])), bool)
    ]
    if missing:
        raise ValidationFailed("health questions not answered", errors=missing)

    found: list[tuple[Outcome, Reason]] = []
    loading = ZERO
    exclusions: list[str] = []

    def fire(outcome: Outcome, code: str, message: str, question: str = "") -> None:
        found.append((outcome, Reason(code, message, question)))

    # Age at entry and occupation class (the eligibility the price was computed with, re-checked
    # on the insured's real data).
    min_days = int(rules.get("min_age_days", eligibility.get("min_age_days", 0)) or 0)
    max_age = rules.get("max_age", eligibility.get("max_age"))
    if facts.age_days < min_days:
        fire("decline", "age_below_minimum", f"被保险人未达本产品最低投保年龄（{_age_text(min_days)}）")
    if max_age is not None and facts.age_years > int(max_age):
        fire(
            "decline",
            "age_above_maximum",
            f"被保险人{facts.age_years}周岁，超过本产品最高投保年龄{int(max_age)}周岁",
        )
    classes = [int(c) for c in eligibility.get("occupation_classes") or []]
    if classes and facts.occupation_class is not None and facts.occupation_class not in classes:
        fire(
            "decline",
            "occupation_not_accepted",
            f"被保险人职业类别为{facts.occupation_class}类，本产品仅承保{min(classes)}–{max(classes)}类职业",
        )

    # Health declaration.
    question_rules: Mapping[str, Any] = rules.get("questions") or {}
    for q in questions:
        code = str(q["code"])
        adverse = bool(q.get("knock_out_answer", True))
        answer = facts.health_answers[code]
        if answer != adverse:
            continue
        said = f"健康告知“{q.get('text', code)}”回答为“{_answer_text(answer)}”"
        rule = question_rules.get(code) or {"on_yes": "decline"}
        action = rule.get("on_yes", "decline")
        custom = str(rule.get("reason") or "")
        if action == "decline":
            fire("decline", "health_decline", custom or f"{said}，不符合本产品的承保条件", code)
        elif action == "refer":
            fire("refer", "health_refer", custom or f"{said}，需人工核保", code)
        elif action in ("loading", "exclusion"):
            terms: list[str] = []
            percent = _amount(rule.get("loading_percent") or 0)
            if percent > 0:
                loading += percent
                terms.append(f"加费{_plain(percent)}%")
            exclusion = str(rule.get("exclusion") or "").strip()
            if exclusion:
                if exclusion not in exclusions:
                    exclusions.append(exclusion)
                terms.append(f"除外“{exclusion}”")
            code_name = "health_loading" if action == "loading" else "health_exclusion"
            text = f"{said}，{'、'.join(terms) or '按约定条件'}承保"
            fire("accept_with_terms", code_name, f"{custom}（{'、'.join(terms)}）" if custom else text, code)
        # "accept": the adverse answer is acceptable for this product; nothing fires.

    # Sum insured by age (e.g. minors).
    if facts.sum_insured is not None:
        for limit in rules.get("sum_insured_limits") or []:
            cap = _amount(limit["max_sum_insured"])
            if _in_age_range(limit, facts.age_years) and facts.sum_insured > cap:
                outcome: Outcome = "refer" if limit.get("action") == "refer" else "decline"
                detail = f"被保险人{facts.age_years}周岁，保额{yuan(facts.sum_insured)}超过{yuan(cap)}的上限"
                custom = str(limit.get("reason") or "")
                fire(outcome, "sum_insured_limit", f"{custom}（{detail}）" if custom else detail)

    # Aggregate death benefit per insured (e.g. minors: 20万 under 10, 50万 from 10 to 17).
    if facts.death_benefit > 0:
        for limit in rules.get("aggregate_limits") or []:
            if limit.get("benefit", "death") != "death" or not _in_age_range(limit, facts.age_years):
                continue
            cap = _amount(limit["limit"])
            total = facts.existing_death_benefit + facts.death_benefit
            if total > cap:
                detail = (
                    f"已有身故保险金{yuan(facts.existing_death_benefit)}，本单{yuan(facts.death_benefit)}，"
                    f"合计{yuan(total)}，超过{yuan(cap)}的限额"
                )
                custom = str(limit.get("reason") or "")
                fire("decline", "aggregate_death_limit", f"{custom}（{detail}）" if custom else detail)

    # Referral thresholds (financial and age underwriting).
    above = rules.get("refer_sum_insured_above")
    if above is not None and facts.sum_insured is not None and facts.sum_insured > _amount(above):
        fire(
            "refer",
            "refer_sum_insured",
            f"保额{yuan(facts.sum_insured)}超过{yuan(_amount(above))}，需人工核保（财务核保）",
        )
    refer_age = rules.get("refer_age_above")
    if refer_age is not None and facts.age_years > int(refer_age):
        fire("refer", "refer_age", f"被保险人{facts.age_years}周岁，超过{int(refer_age)}周岁需人工核保")
    premium_above = rules.get("refer_premium_above")
    if premium_above is not None and facts.premium > _amount(premium_above):
        fire(
            "refer",
            "refer_premium",
            f"保费{yuan(facts.premium)}超过{yuan(_amount(premium_above))}，需人工核保",
        )
    if loading > MAX_LOADING_PERCENT:
        fire(
            "refer",
            "loading_too_high",
            f"累计加费{_plain(loading)}%超过{_plain(MAX_LOADING_PERCENT)}%，需人工核保",
        )

    outcome_all = worst(o for o, _ in found)
    if outcome_all == "decline":
        loading, exclusions = ZERO, []
    # The reasons that decided first, then the others, each group in the order the rules ran.
    ordered = sorted(found, key=lambda pair: -SEVERITY[pair[0]])
    return UnderwritingDecision(
        outcome=outcome_all,
        reasons=tuple(r for _, r in ordered),
        loading_percent=loading,
        exclusions=tuple(exclusions),
    )


# --- death benefit ---------------------------------------------------------------------------


def death_benefit(
    coverages: Iterable[tuple[str, str, Decimal | None]], chosen_sum_insured: Decimal | None
) -> Decimal:
    """The death benefit of an item: the sum over its death coverages (`is_death_coverage`) of each
    one's sum insured, capped at the sum insured the customer chose (a plan's coverages carry the
    plan's maximum). Extra death benefits (e.g. 交通意外额外身故) add up, and optional ones
    count: the limit is on what may be paid at most."""
    total = ZERO
    for code, name, amount in coverages:
        if not amount or amount <= 0 or not is_death_coverage(code, name):
            continue
        total += min(amount, chosen_sum_insured) if chosen_sum_insured else amount
    return total


# --- validation of a rules document ----------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal_or_none(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def validate_rules(raw: Any, *, eligibility: Mapping[str, Any] | None = None) -> list[FieldError]:
    """Problems with an `underwriting` document, each naming its field under `underwriting.`.
    With `eligibility`, question codes must be the version's health questions."""
    errors: list[FieldError] = []

    def bad(name: str, code: str, message: str) -> None:
        errors.append(FieldError(f"underwriting.{name}" if name else "underwriting", code, message))

    if raw is None:
        return errors
    if not isinstance(raw, Mapping):
        bad("", "invalid", "核保规则须为对象")
        return errors
    for key in sorted(set(raw) - TOP_LEVEL_KEYS):
        bad(key, "unknown", f"未知的核保规则项“{key}”")

    def amount(name: str, value: Any, *, positive: bool = True) -> Decimal | None:
        result = _decimal_or_none(value)
        if result is None or result < 0 or (positive and result == 0):
            bad(name, "invalid", '须为大于0的金额（字符串，如 "500000"）')
            return None
        return result

    def age(name: str, value: Any, *, top: int = MAX_AGE) -> int | None:
        if not _is_int(value) or not 0 <= value <= top:
            bad(name, "invalid", f"须为0至{top}之间的整数")
            return None
        return int(value)

    if "max_age" in raw:
        age("max_age", raw["max_age"])
    if "min_age_days" in raw and (not _is_int(raw["min_age_days"]) or raw["min_age_days"] < 0):
        bad("min_age_days", "invalid", "须为非负整数（天）")
    if "refer_age_above" in raw:
        age("refer_age_above", raw["refer_age_above"])
    for key in ("refer_sum_insured_above", "refer_premium_above"):
        if key in raw:
            amount(key, raw[key])

    questions = raw.get("questions", {})
    known = None
    if eligibility is not None:
        known = {
            str(q.get("code")) for q in eligibility.get("health_questions") or [] if isinstance(q, Mapping)
        }
    if not isinstance(questions, Mapping):
        bad("questions", "invalid", "须为以健康告知问题代码为键的对象")
    else:
        for code, rule in questions.items():
            path = f"questions.{code}"
            if known is not None and code not in known:
                bad(path, "unknown_question", f"健康告知中没有代码为“{code}”的问题")
            if not isinstance(rule, Mapping):
                bad(path, "invalid", "须为对象")
                continue
            for key in sorted(set(rule) - QUESTION_KEYS):
                bad(f"{path}.{key}", "unknown", f"未知的字段“{key}”")
            action = rule.get("on_yes")
            if action not in QUESTION_ACTIONS:
                bad(f"{path}.on_yes", "invalid", f"须为 {', '.join(QUESTION_ACTIONS)} 之一")
                continue
            percent = None
            if "loading_percent" in rule:
                percent = _decimal_or_none(rule["loading_percent"])
                if percent is None or not ZERO < percent <= MAX_LOADING_PERCENT:
                    bad(f"{path}.loading_percent", "invalid", "加费比例须为大于0且不超过300的数字（%）")
            exclusion = rule.get("exclusion")
            if exclusion is not None and (not isinstance(exclusion, str) or not exclusion.strip()):
                bad(f"{path}.exclusion", "invalid", "除外责任须为非空文字")
            if action == "loading" and "loading_percent" not in rule:
                bad(f"{path}.loading_percent", "required", "加费承保须填写加费比例")
            if action == "exclusion" and not exclusion:
                bad(f"{path}.exclusion", "required", "除外承保须填写除外责任")
            if action in ("decline", "refer", "accept") and ("loading_percent" in rule or exclusion):
                bad(path, "invalid", "只有 loading 或 exclusion 可以带加费比例或除外责任")
            if "reason" in rule and not isinstance(rule["reason"], str):
                bad(f"{path}.reason", "invalid", "须为文字")

    for key, allowed, money_key in (
        ("sum_insured_limits", SUM_LIMIT_KEYS, "max_sum_insured"),
        ("aggregate_limits", AGGREGATE_KEYS, "limit"),
    ):
        limits = raw.get(key, [])
        if not isinstance(limits, list):
            bad(key, "invalid", "须为列表")
            continue
        for i, limit in enumerate(limits):
            path = f"{key}[{i}]"
            if not isinstance(limit, Mapping):
                bad(path, "invalid", "须为对象")
                continue
            for extra in sorted(set(limit) - allowed):
                bad(f"{path}.{extra}", "unknown", f"未知的字段“{extra}”")
            low = age(f"{path}.min_age", limit["min_age"]) if "min_age" in limit else 0
            high = age(f"{path}.max_age", limit["max_age"]) if "max_age" in limit else MAX_AGE
            if low is not None and high is not None and low > high:
                bad(f"{path}.min_age", "range", "最低年龄不能大于最高年龄")
            if money_key not in limit:
                bad(f"{path}.{money_key}", "required", "须填写限额")
            else:
                amount(f"{path}.{money_key}", limit[money_key])
            if "reason" in limit and not isinstance(limit["reason"], str):
                bad(f"{path}.reason", "invalid", "须为文字")
            if key == "aggregate_limits" and limit.get("benefit", "death") not in BENEFITS:
                bad(f"{path}.benefit", "invalid", f"须为 {', '.join(BENEFITS)} 之一")
            if key == "sum_insured_limits" and limit.get("action", "decline") not in LIMIT_ACTIONS:
                bad(f"{path}.action", "invalid", f"须为 {', '.join(LIMIT_ACTIONS)} 之一")
    return errors


# --- what the customer reads -------------------------------------------------------------------

UNDERWRITER_PREFIX = "underwriter_"


@dataclass(frozen=True, slots=True)
class CustomerReason:
    """One reason as the customer reads it: a rule that fired (`kind` "rule") or the
    underwriter's note on their decision (`kind` "underwriter")."""

    kind: Literal["rule", "underwriter"]
    text: str
    code: str = ""


def _plain_words(message: str) -> str:
    """A rule's message without the back office's words (人工核保, 财务核保)."""
    text = message.replace("（财务核保）", "").replace("需人工核保", "需由核保人员人工审核")
    return text.rstrip("。") + "。"


def customer_reasons(reasons: Iterable[Mapping[str, Any] | str], *, note: str = "") -> list[CustomerReason]:
    """The reasons recorded on an item (`Reason.as_json`, an underwriter's decision first) as the
    customer reads them: the underwriter's note (or `note`) first when there is one, then each
    rule that fired, in plain words. Never a generic reason no rule gave."""
    out: list[CustomerReason] = []
    notes: list[str] = [note.strip()] if note.strip() else []
    for reason in reasons:
        if isinstance(reason, str):
            code, message = "", reason
        else:
            code, message = str(reason.get("code", "")), str(reason.get("message", ""))
        if code.startswith(UNDERWRITER_PREFIX):
            # "人工核保：加费承保。<the underwriter's words>"
            said = message.split("。", 1)[1].strip() if "。" in message else ""
            if said and said not in notes:
                notes.append(said)
            continue
        if message.strip():
            out.append(CustomerReason("rule", _plain_words(message.strip()), code))
    return [CustomerReason("underwriter", n, "underwriter_note") for n in notes] + out
