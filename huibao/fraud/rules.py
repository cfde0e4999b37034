"""The screening engine's pure part: subjects, the rule catalogue, evaluators and the verdict.

No ORM and no I/O. A rule is one `RuleSpec` registered with `register_rule`: its code, the kind
of subject it screens, its declared parameters (each with a type and a range: the schema the
stored parameters are validated against), its defaults (seeded by a data migration), the history
query it needs (`query`, a name that `fraud.history` answers with one indexed query, or "" when the
subject alone is enough) and its evaluator: `evaluate(subject, params, matches) -> Finding | None`.

Verdict: the score is the sum of the scores of the rules that fired; the route is the strictest
of the routes the fired rules force and of the route the score reaches. The score's cut-offs are
a versioned `Thresholds` (the `FraudPolicy` in force, read once per screening; `DEFAULT_THRESHOLDS`
when none was ever approved). A rule that forces `hold` (a condition still pending elsewhere, such
as an open case on the same person) puts the claim on hold unless something blocks it; the hold
remembers the route it had without the hold (`Verdict.after_hold`), the route it takes when the
condition clears. See docs/howto-add-a-fraud-rule.md and docs/fraud.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from huibao.core.errors import FieldError

# The defaults in code: a score at or above these routes the subject at least to review / block
# (the thresholds in force come from the latest approved `FraudPolicy`).
REVIEW_SCORE = 40
BLOCK_SCORE = 100
SCORE_CEILING = 10000
# Earlier subjects named as evidence per rule, at most (the query reads no more than this).
EVIDENCE_LIMIT = 20


class Route(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    HOLD = "hold"  # neither decided nor queued for a person until a pending condition clears
    BLOCK = "block"


ROUTE_ORDER = {Route.PASS: 0, Route.REVIEW: 1, Route.HOLD: 2, Route.BLOCK: 3}
ROUTE_LABELS = {Route.PASS: "通过", Route.REVIEW: "人工复核", Route.HOLD: "暂缓", Route.BLOCK: "拦截"}


def strictest(routes: list[Route]) -> Route:
    return max(routes, key=ROUTE_ORDER.__getitem__, default=Route.PASS)


# --- subjects -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldPolicy:
    """Another policy the insured holds (a fact the claim side may know)."""

    insurer_code: str
    policy_reference: str


@dataclass(frozen=True, slots=True)
class ClaimSubject:
    """A claim as the claim side hands it to screening (interface 3 of the claims design).

    ID hashes are `huibao.core.fields.lookup_hash(id_number, context=fraud.rules.ID_HASH_CONTEXT)`.
    `held_policies`: the other active policies of the same line the insured holds, on this
    platform or reported by insurers; None when the claim side cannot tell (the rule
    `multiple_insurers` then stays silent — its extension point)."""

    reference: str
    policy_reference: str
    insurer_code: str
    product_code: str
    claimant_id_hash: str
    insured_id_hash: str
    region_code: str
    claim_type: str
    amount_claimed: Decimal
    incident_date: datetime.date
    reported_at: datetime.datetime
    policy_effective_date: datetime.date
    waiting_period_end: datetime.date | None = None
    sum_insured_increased_on: datetime.date | None = None
    medical_institution: str = ""
    invoice_numbers: tuple[str, ...] = ()
    file_digests: tuple[str, ...] = ()
    line: str = ""
    fast_track_threshold: Decimal | None = None
    held_policies: tuple[HeldPolicy, ...] | None = None
    claimant_name: str = ""  # shown masked; offered to the blacklist on confirmation
    # The day the policy was applied for (bought). The claim side passes the policy's issue date:
    # an internet policy is issued within minutes of its application being paid. None: unknown
    # (the rule `applied_near_effective_frequent` then stays silent).
    policy_applied_date: datetime.date | None = None

    kind = "claim"


ID_HASH_CONTEXT = "person.id_number"  # the policy parties' and endorsements' context, on purpose


def normalise_institution(name: str) -> str:
    return "".join(name.split()).upper()


def normalise_invoice(number: str) -> str:
    return "".join(number.split()).upper()


# --- history ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """An earlier subject (or list entry) a history query found."""

    reference: str
    policy_reference: str = ""
    insurer_code: str = ""
    amount: Decimal | None = None
    reported_at: datetime.datetime | None = None
    value: str = ""  # the invoice number or digest, the blacklist entry's id…

    def evidence(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "policy_reference": self.policy_reference,
            "insurer_code": self.insurer_code,
            "amount": str(self.amount) if self.amount is not None else None,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule saw: a Chinese sentence with the numbers, and the earlier subjects."""

    summary: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Fired:
    code: str
    version: int
    name: str
    score: int
    route: Route
    finding: Finding

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "score": self.score,
            "route": self.route.value,
            "summary": self.finding.summary,
            "facts": {k: _plain(v) for k, v in self.finding.facts.items()},
            "matches": [m.evidence() for m in self.finding.matches],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal | datetime.date):
        return str(value)
    return value


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    label: str  # Chinese, named in errors
    kind: type = int  # int or Decimal
    minimum: Decimal = Decimal("0")
    maximum: Decimal = Decimal("100000")


def validate_parameters(
    params_schema: tuple[Param, ...], values: Mapping[str, Any], *, prefix: str = "parameters"
) -> tuple[dict[str, Any], list[FieldError]]:
    """The parameters as stored (ints, Decimal strings) and the errors, each naming its field.
    Every declared parameter is required; an undeclared one is refused."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    declared = {p.name for p in params_schema}
    for extra in sorted(set(values) - declared):
        errors.append(FieldError(f"{prefix}.{extra}", "unknown_parameter", f"{extra}：该规则没有此参数"))
    for p in params_schema:
        where = f"{prefix}.{p.name}"
        if p.name not in values:
            errors.append(FieldError(where, "required", f"{p.label}：必填"))
            continue
        raw = values[p.name]
        number: Decimal
        if p.kind is int:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                errors.append(FieldError(where, "int_type", f"{p.label}：须为整数"))
                continue
            try:
                number = Decimal(str(raw).strip())
            except InvalidOperation:
                errors.append(FieldError(where, "int_type", f"{p.label}：须为整数"))
                continue
            if number != number.to_integral_value():
                errors.append(FieldError(where, "int_type", f"{p.label}：须为整数"))
                continue
        else:
            if isinstance(raw, bool | float) or not isinstance(raw, int | str | Decimal):
                errors.append(FieldError(where, "decimal_type", f"{p.label}：须为数字（文本形式）"))
                continue
            try:
                number = Decimal(str(raw).strip())
            except InvalidOperation:
                errors.append(FieldError(where, "decimal_type", f"{p.label}：须为数字"))
                continue
            if not number.is_finite():
                errors.append(FieldError(where, "decimal_type", f"{p.label}：须为数字"))
                continue
        if number < p.minimum or number > p.maximum:
            errors.append(FieldError(where, "out_of_range", f"{p.label}：须在{p.minimum}到{p.maximum}之间"))
            continue
        clean[p.name] = int(number) if p.kind is int else str(number)
    return clean, errors


def read(params: Mapping[str, Any], name: str) -> Decimal:
    return Decimal(str(params[name]))


# --- the catalogue ------------------------------------------------------------------------------

Evaluator = Callable[[Any, Mapping[str, Any], tuple[Match, ...]], Finding | None]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    code: str
    subject_kind: str
    name: str
    description: str
    params: tuple[Param, ...]
    defaults: Mapping[str, Any]
    score: int
    route: Route  # the route it forces at least when it fires
    evaluate: Evaluator
    query: str = ""  # the history query (fraud.history.QUERIES), "" for none


RULES: dict[str, RuleSpec] = {}


def register_rule(spec: RuleSpec) -> RuleSpec:
    if spec.code in RULES and RULES[spec.code] is not spec:
        raise ValueError(f"fraud rule {spec.code!r} is registered twice")
    _, errors = validate_parameters(spec.params, spec.defaults)
    if errors:
        raise ValueError(f"fraud rule {spec.code!r}: defaults break its schema: {errors}")
    RULES[spec.code] = spec
    return spec


def rules_for(kind: str) -> list[RuleSpec]:
    return [spec for spec in RULES.values() if spec.subject_kind == kind]


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """A rule as configured now (its stored version): what the engine evaluates."""

    spec: RuleSpec
    version: int
    params: Mapping[str, Any]
    score: int
    route: Route


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The score's route cut-offs and the hold switch, as one version of the fraud policy says.
    `version` 0: the defaults in code (no version approved yet)."""

    version: int = 0
    review_at: int = REVIEW_SCORE
    block_at: int = BLOCK_SCORE
    # Off: a hold condition routes the claim to review instead (a person looks at once).
    hold_enabled: bool = True

    def route_of(self, score: int) -> Route:
        return (
            Route.BLOCK if score >= self.block_at else Route.REVIEW if score >= self.review_at else Route.PASS
        )


DEFAULT_THRESHOLDS = Thresholds()


def check_thresholds(review_at: Any, block_at: Any) -> tuple[tuple[int, int] | None, list[FieldError]]:
    """The two cut-offs as integers, or the errors naming each field:
    1 ≤ review_at < block_at ≤ SCORE_CEILING."""
    errors: list[FieldError] = []
    clean: list[int] = []
    for name, label, raw in (("review_at", "复核分数线", review_at), ("block_at", "拦截分数线", block_at)):
        try:
            if isinstance(raw, bool | float):
                raise ValueError
            number = int(str(raw).strip())
        except (TypeError, ValueError):
            errors.append(FieldError(name, "int_type", f"{label}：须为整数"))
            continue
        if not 1 <= number <= SCORE_CEILING:
            errors.append(FieldError(name, "out_of_range", f"{label}：须在1到{SCORE_CEILING}之间"))
            continue
        clean.append(number)
    if errors:
        return None, errors
    if clean[0] >= clean[1]:
        return None, [FieldError("block_at", "not_above_review", "拦截分数线：须高于复核分数线")]
    return (clean[0], clean[1]), []


@dataclass(frozen=True, slots=True)
class Verdict:
    score: int
    route: Route
    fired: tuple[Fired, ...]
    thresholds_version: int = 0
    # The route without the hold rules: where a held subject goes when its condition clears.
    after_hold: Route = Route.PASS


def evaluate(
    subject: Any,
    rules: list[ActiveRule],
    matches: Mapping[str, tuple[Match, ...]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verdict:
    fired: list[Fired] = []
    for rule in rules:
        finding = rule.spec.evaluate(subject, rule.params, matches.get(rule.spec.code, ()))
        if finding is not None:
            fired.append(Fired(rule.spec.code, rule.version, rule.spec.name, rule.score, rule.route, finding))
    score = sum(f.score for f in fired)
    base = strictest([thresholds.route_of(score), *(f.route for f in fired if f.route != Route.HOLD)])
    route = base
    if base != Route.BLOCK and any(f.route == Route.HOLD for f in fired):
        route = Route.HOLD if thresholds.hold_enabled else strictest([base, Route.REVIEW])
    return Verdict(score, route, tuple(fired), thresholds.version, base)


# --- claim rules --------------------------------------------------------------------------------


def _days_between(start: datetime.date | None, end: datetime.date) -> int | None:
    return None if start is None else (end - start).days


def _duplicate(what: str) -> Evaluator:
    def evaluate(
        subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
    ) -> Finding | None:
        if not matches:
            return None
        values = sorted({m.value for m in matches})
        others = sorted({m.reference for m in matches})
        return Finding(
            f"{what}与{len(others)}件其他理赔重复：{'、'.join(others[:5])}",
            {"values": values, "other_claims": len(others)},
            matches,
        )

    return evaluate


def _soon_after(start_of: Callable[[ClaimSubject], datetime.date | None], what: str) -> Evaluator:
    def evaluate(
        subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
    ) -> Finding | None:
        start = start_of(subject)
        days = _days_between(start, subject.incident_date)
        if days is None or days < 0 or days > int(params["days"]):
            return None
        return Finding(
            f"出险日距{what}（{start}）仅{days}天（阈值{params['days']}天）",
            {"start": start, "days_after": days, "threshold_days": int(params["days"])},
        )

    return evaluate


def _frequency(what: str) -> Evaluator:
    def evaluate(
        subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
    ) -> Finding | None:
        total = len(matches) + 1  # the earlier ones the query found, and this one
        if total <= int(params["max_claims"]):
            return None
        return Finding(
            f"{what}{params['days']}天内已有至少{total}件理赔（阈值{params['max_claims']}件）",
            {"claims_in_window": total, "max_claims": int(params["max_claims"]), "days": int(params["days"])},
            matches,
        )

    return evaluate


def threshold_of(subject: ClaimSubject, params: Mapping[str, Any]) -> Decimal:
    return (
        subject.fast_track_threshold
        if subject.fast_track_threshold is not None
        else read(params, "threshold")
    )


def just_under_band(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """The amounts counted as 'just under' the fast-track threshold: [low, threshold]."""
    top = threshold_of(subject, params)
    return top * (1 - read(params, "percent") / 100), top


def _just_under(
    subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
) -> Finding | None:
    low, top = just_under_band(subject, params)
    if not (low <= subject.amount_claimed <= top):
        return None
    total = len(matches) + 1
    if total < int(params["count"]):
        return None
    return Finding(
        f"{params['days']}天内{total}件理赔金额均在快速理赔上限{top}元以下{params['percent']}%以内",
        {"claims": total, "low": low, "threshold": top, "days": int(params["days"])},
        matches,
    )


def _blacklisted(
    subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
) -> Finding | None:
    if not matches:
        return None
    who = sorted({("申请人" if m.value == subject.claimant_id_hash else "被保险人") for m in matches})
    return Finding(f"{'、'.join(who)}在共享黑名单上", {"who": who}, matches)


def _applied_near_effective_frequent(
    subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
) -> Finding | None:
    """Huize's rule: the application close to the effective date and more than N claims."""
    gap = _days_between(subject.policy_applied_date, subject.policy_effective_date)
    if gap is None or gap < 0 or gap > int(params["gap_days"]):
        return None
    total = len(matches) + 1  # the insured's earlier claims in the window, and this one
    if total <= int(params["max_claims"]):
        return None
    return Finding(
        f"投保（{subject.policy_applied_date}）后{gap}天即生效，且被保险人{params['days']}天内已有"
        f"{total}件理赔（阈值：投保至生效不超过{params['gap_days']}天、理赔超过{params['max_claims']}件）",
        {
            "applied": subject.policy_applied_date,
            "effective": subject.policy_effective_date,
            "gap_days": gap,
            "claims_in_window": total,
            "max_claims": int(params["max_claims"]),
        },
        matches,
    )


def _multiple_insurers(
    subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
) -> Finding | None:
    if subject.held_policies is None:
        return None  # the claim side could not tell: the extension point (docs/howto-add-a-fraud-rule.md)
    held = [p for p in subject.held_policies if p.policy_reference != subject.policy_reference]
    total = len(held) + 1
    insurers = sorted({subject.insurer_code, *(p.insurer_code for p in held)})
    if total <= int(params["max_policies"]) or len(insurers) < 2:
        return None
    return Finding(
        f"被保险人同时持有{total}张同类有效保单，来自{len(insurers)}家保险公司（阈值{params['max_policies']}张）",
        {"active_policies": total, "insurers": insurers},
        tuple(Match(p.policy_reference, p.policy_reference, p.insurer_code) for p in held),
    )


def _related_open_case(
    subject: ClaimSubject, params: Mapping[str, Any], matches: tuple[Match, ...]
) -> Finding | None:
    """Another claim of the same person is in the analysts' queue: wait for its outcome."""
    if not matches:
        return None
    others = sorted({m.reference for m in matches})
    return Finding(
        f"申请人或被保险人另有{len(others)}件理赔的风控案件尚未处理完毕：{'、'.join(others[:5])}",
        {"other_claims": others, "cases": sorted({m.value for m in matches})},
        matches,
    )


DAYS = Param("days", "天数", int, Decimal(0), Decimal(3650))
MAX_CLAIMS = Param("max_claims", "理赔件数上限", int, Decimal(1), Decimal(100000))

register_rule(
    RuleSpec(
        "duplicate_invoice_number",
        "claim",
        "发票号重复",
        "同一发票号出现在平台上任何其他理赔中（任何保险公司）。",
        (),
        {},
        60,
        Route.REVIEW,
        _duplicate("发票号"),
        query="invoice_numbers",
    )
)
register_rule(
    RuleSpec(
        "duplicate_invoice_file",
        "claim",
        "发票文件重复",
        "同一文件内容（SHA-256）出现在平台上任何其他理赔中。",
        (),
        {},
        60,
        Route.REVIEW,
        _duplicate("材料文件"),
        query="file_digests",
    )
)
register_rule(
    RuleSpec(
        "soon_after_start",
        "claim",
        "保单生效后不久出险",
        "出险日在保单生效后N天内。",
        (DAYS,),
        {"days": 30},
        20,
        Route.PASS,
        _soon_after(lambda s: s.policy_effective_date, "保单生效"),
    )
)
register_rule(
    RuleSpec(
        "soon_after_waiting_period",
        "claim",
        "等待期结束后不久出险",
        "出险日在等待期结束后N天内。",
        (DAYS,),
        {"days": 15},
        25,
        Route.PASS,
        _soon_after(lambda s: s.waiting_period_end, "等待期结束"),
    )
)
register_rule(
    RuleSpec(
        "soon_after_increase",
        "claim",
        "加保后不久出险",
        "出险日在最近一次保额增加后N天内。",
        (DAYS,),
        {"days": 30},
        30,
        Route.PASS,
        _soon_after(lambda s: s.sum_insured_increased_on, "保额增加"),
    )
)
register_rule(
    RuleSpec(
        "frequent_insured",
        "claim",
        "同一被保险人频繁理赔",
        "同一被保险人M天内理赔超过N件。",
        (MAX_CLAIMS, DAYS),
        {"max_claims": 3, "days": 90},
        40,
        Route.REVIEW,
        _frequency("同一被保险人"),
        query="same_insured",
    )
)
register_rule(
    RuleSpec(
        "applied_near_effective_frequent",
        "claim",
        "投保即生效且多次理赔",
        "投保日期与生效日期相隔不超过N天，且被保险人M天内理赔超过K件（慧择：投保日期与生效日期接近且出险超过2次）。",
        (Param("gap_days", "投保至生效天数上限", int, Decimal(0), Decimal(365)), MAX_CLAIMS, DAYS),
        {"gap_days": 1, "max_claims": 2, "days": 365},
        40,
        Route.REVIEW,
        _applied_near_effective_frequent,
        query="same_insured",
    )
)
register_rule(
    RuleSpec(
        "frequent_region",
        "claim",
        "同一地区频繁理赔",
        "同一地区（行政区划代码）M天内理赔超过N件（慧择：同一地区多次理赔）。",
        (MAX_CLAIMS, DAYS),
        {"max_claims": 50, "days": 30},
        20,
        Route.PASS,
        _frequency("同一地区"),
        query="same_region",
    )
)
register_rule(
    RuleSpec(
        "frequent_institution",
        "claim",
        "同一医疗机构频繁理赔",
        "同一医疗机构M天内理赔超过N件（慧择：同一医疗机构多次理赔）。",
        (MAX_CLAIMS, DAYS),
        {"max_claims": 20, "days": 30},
        30,
        Route.PASS,
        _frequency("同一医疗机构"),
        query="same_institution",
    )
)
register_rule(
    RuleSpec(
        "just_under_fast_track",
        "claim",
        "金额反复略低于快速理赔上限",
        "同一被保险人M天内K件理赔金额在快速理赔上限以下X%以内（上限取产品设置，缺省用参数）。",
        (
            Param("count", "件数", int, Decimal(2), Decimal(1000)),
            Param("percent", "百分比", Decimal, Decimal("0.01"), Decimal(50)),
            DAYS,
            Param("threshold", "快速理赔上限（元）", Decimal, Decimal(1), Decimal(1000000)),
        ),
        {"count": 3, "percent": "10", "days": 180, "threshold": "2000.00"},
        40,
        Route.REVIEW,
        _just_under,
        query="just_under",
    )
)
register_rule(
    RuleSpec(
        "blacklisted",
        "claim",
        "黑名单人员",
        "申请人或被保险人在共享黑名单上（平台及各保险公司共享）。",
        (),
        {},
        100,
        Route.BLOCK,
        _blacklisted,
        query="blacklist",
    )
)
register_rule(
    RuleSpec(
        "multiple_insurers",
        "claim",
        "多家公司同时投保",
        "被保险人同时持有超过N张同类有效保单且来自不止一家保险公司（需理赔方提供持有保单事实）。",
        (Param("max_policies", "保单数上限", int, Decimal(1), Decimal(100)),),
        {"max_policies": 2},
        30,
        Route.REVIEW,
        _multiple_insurers,
    )
)
register_rule(
    RuleSpec(
        "related_open_case",
        "claim",
        "关联案件待处理",
        "申请人或被保险人的其他理赔有未结的风控案件：本案暂缓，待该案件处理完毕后自动继续（或由分析员放行）。",
        (),
        {},
        0,
        Route.HOLD,
        _related_open_case,
        query="related_open_cases",
    )
)
