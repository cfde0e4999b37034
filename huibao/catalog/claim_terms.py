"""What a product version pays and asks for at claim time (理赔条款), as frozen values.

Pure: no ORM, no I/O. A version's `claims` document (JSON beside `servicing`; schema in
`catalog/schema/product.schema.json`, `$defs/claims`) and its plans' coverages are read into these
values by `claim_terms(...)`, with defaults for a version that states nothing, so that the claim
code (eligibility, the checklist, the benefit rules in `claim/rules.py`) never reads raw
JSON. Money is `Decimal` CNY with two places; ratios have four.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any


class ClaimType(StrEnum):
    """The kinds of claim a customer can report; each coverage pays under one of them."""

    MEDICAL = "medical"  # 医疗费用报销
    HOSPITAL_CASH = "hospital_cash"  # 住院津贴
    ACCIDENT = "accident"  # 意外身故/伤残
    CRITICAL_ILLNESS = "critical_illness"  # 重疾确诊
    DEATH = "death"  # 身故/全残 (life)
    TRAVEL_DELAY = "travel_delay"  # 航班/旅行延误
    BAGGAGE = "baggage"  # 行李/随身财产
    PHONE_SCREEN = "phone_screen"  # 碎屏
    PET_MEDICAL = "pet_medical"  # 宠物医疗
    HOME_DAMAGE = "home_damage"  # 家财损失
    AUTO = "auto"  # 车险
    RETURN_SHIPPING = "return_shipping"  # 退货运费
    ACCOUNT_FRAUD = "account_fraud"  # 账户盗刷
    OTHER = "other"


class BenefitKind(StrEnum):
    """How a coverage turns a loss into an amount."""

    REIMBURSEMENT = "reimbursement"  # expenses less deductible, times the ratio, within limits
    FIXED = "fixed"  # the sum insured (or `fixed_amount`) once the event is proven
    DAILY = "daily"  # `daily_amount` per day, up to `max_days` per claim
    HOURLY_BANDS = "hourly_bands"  # the amount of the highest band the delay reaches
    SCALE = "scale"  # a share of the sum insured by grade (disability 1–10 级: 100 %…10 %)
    NONE = "none"  # no claim benefit (a waiver, a cash value): not claimable online


class DeductibleBasis(StrEnum):
    PER_CLAIM = "per_claim"  # taken from every claim
    PER_YEAR = "per_year"  # taken once per policy year, across its claims (百万医疗's 1 万免赔)


class MaterialKind(StrEnum):
    """Documents a claim type asks for (理赔材料)."""

    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    INVOICE = "invoice"  # 医疗发票 / 维修发票 (carries an invoice number)
    EXPENSE_LIST = "expense_list"  # 费用清单
    DIAGNOSIS = "diagnosis"  # 诊断证明
    DISCHARGE_SUMMARY = "discharge_summary"  # 出院小结
    PATHOLOGY = "pathology"  # 病理报告 (critical illness)
    DISABILITY_APPRAISAL = "disability_appraisal"  # 伤残鉴定
    DEATH_CERTIFICATE = "death_certificate"
    POLICE_REPORT = "police_report"  # 报警回执 / 事故认定书
    AIRLINE_CERTIFICATE = "airline_certificate"  # 航班延误证明
    BOARDING_PASS = "boarding_pass"
    PHOTO = "photo"  # 现场/损失照片
    REPAIR_QUOTE = "repair_quote"  # 维修报价
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ExclusionTerm:
    """An exclusion the data of a claim can show (`cause` is the reported cause's code, e.g.
    `pre_existing`, `drunk_driving`, `cosmetic`), with the clause it quotes."""

    cause: str
    clause: str  # e.g. "第七条第（三）款"
    text: str  # plain Chinese, shown to the customer


@dataclass(frozen=True, slots=True)
class HourBand:
    """A delay of at least `hours` hours pays `amount` (bands do not add up: the highest wins)."""

    hours: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CoverageTerms:
    """One coverage of the policy's plan, as the claim rules need it."""

    code: str
    name: str
    claim_type: ClaimType
    benefit_kind: BenefitKind
    sum_insured: Decimal  # the coverage's limit for the policy year unless `annual_limit` says less
    deductible: Decimal = Decimal("0")
    deductible_basis: DeductibleBasis = DeductibleBasis.PER_CLAIM
    ratio_with_social_insurance: Decimal = Decimal("1")  # 经社保结算
    ratio_without_social_insurance: Decimal = Decimal("1")  # 未经社保结算 (commonly 0.6)
    per_claim_limit: Decimal | None = None
    annual_limit: Decimal | None = None
    # Sub-limits per expense category of a reimbursement (e.g. {"outpatient": 5000}).
    item_limits: dict[str, Decimal] = field(default_factory=dict)
    fixed_amount: Decimal | None = None  # FIXED: None pays the sum insured
    # FIXED: paid at most once per policy year (a critical illness lump sum); False lets several
    # claims of a year pay, within what the year has left.
    fixed_once_per_year: bool = True
    daily_amount: Decimal | None = None  # DAILY
    max_days: int | None = None  # DAILY: days paid per claim
    max_days_per_year: int | None = None  # DAILY: days paid per policy year, across its claims
    hour_bands: tuple[HourBand, ...] = ()  # HOURLY_BANDS, any order
    waiting_period_days: int = 0
    exclusions: tuple[ExclusionTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class TriggerTerms:
    """An event-triggered (parametric) product: pays without a claim when an event reports it."""

    kind: str  # "flight_delay", "return_shipping" or "screen_repair"
    delay_hours: int = 0  # flight delay: the threshold that pays
    pays_on_cancellation: bool = False
    # A plan with its own threshold (基础版 3 小时, 尊享版 1 小时): plan code → hours.
    plan_delay_hours: dict[str, int] = field(default_factory=dict)

    def delay_hours_for(self, plan_code: str) -> int:
        return self.plan_delay_hours.get(plan_code, self.delay_hours)


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """Everything a version says about claims."""

    coverages: tuple[CoverageTerms, ...]
    materials: dict[ClaimType, tuple[MaterialKind, ...]]  # required materials per claim type
    fast_track_limit: Decimal = Decimal("2000.00")  # 小额快赔: at or under, decided by the system
    report_within_days: int = 0  # 0: no time limit to report after the incident
    trigger: TriggerTerms | None = None
    # An approval above it needs a second adjuster (四眼复核); None: the insurer's setting alone.
    four_eyes_amount: Decimal | None = None

    def coverage(self, code: str) -> CoverageTerms | None:
        return next((c for c in self.coverages if c.code == code), None)

    def claim_types(self) -> tuple[ClaimType, ...]:
        """The claim types the customer may choose, in coverage order, once each."""
        seen: dict[ClaimType, None] = {}
        for c in self.coverages:
            if c.benefit_kind is not BenefitKind.NONE:
                seen.setdefault(c.claim_type, None)
        return tuple(seen)

    def materials_for(self, claim_type: ClaimType) -> tuple[MaterialKind, ...]:
        """The materials a claim of `claim_type` needs (the default list when the version is silent)."""
        return self.materials.get(
            claim_type, DEFAULT_MATERIALS.get(claim_type, DEFAULT_MATERIALS[ClaimType.OTHER])
        )

    def coverages_of(self, claim_type: ClaimType) -> tuple[CoverageTerms, ...]:
        return tuple(
            c for c in self.coverages if c.claim_type is claim_type and c.benefit_kind is not BenefitKind.NONE
        )


@dataclass(frozen=True, slots=True)
class CoverageBasis:
    """What the sale fixed of one coverage: the catalog `Coverage` row with the sum insured of the
    policy's frozen schedule (what the policy was sold with). `claim_terms` takes these."""

    code: str
    name: str
    sum_insured: Decimal
    deductible: Decimal = Decimal("0")
    reimbursement_ratio: Decimal = Decimal("1")
    waiting_period_days: int = 0
    per_claim_limit: Decimal | None = None
    annual_limit: Decimal | None = None


M = MaterialKind
# Required materials per claim type when the version's `claims.materials` does not say. The payee
# account is typed in on the report, so no bank-card photo is asked by default.
DEFAULT_MATERIALS: dict[ClaimType, tuple[MaterialKind, ...]] = {
    ClaimType.MEDICAL: (M.ID_CARD, M.INVOICE, M.EXPENSE_LIST, M.DIAGNOSIS),
    ClaimType.HOSPITAL_CASH: (M.ID_CARD, M.DIAGNOSIS, M.DISCHARGE_SUMMARY),
    ClaimType.ACCIDENT: (M.ID_CARD, M.DIAGNOSIS, M.DISABILITY_APPRAISAL),
    ClaimType.CRITICAL_ILLNESS: (M.ID_CARD, M.DIAGNOSIS, M.PATHOLOGY),
    ClaimType.DEATH: (M.ID_CARD, M.DEATH_CERTIFICATE),
    ClaimType.TRAVEL_DELAY: (M.ID_CARD, M.AIRLINE_CERTIFICATE, M.BOARDING_PASS),
    ClaimType.BAGGAGE: (M.ID_CARD, M.POLICE_REPORT, M.PHOTO, M.INVOICE),
    ClaimType.PHONE_SCREEN: (M.PHOTO, M.REPAIR_QUOTE),
    ClaimType.PET_MEDICAL: (M.PHOTO, M.DIAGNOSIS, M.INVOICE),
    ClaimType.HOME_DAMAGE: (M.ID_CARD, M.PHOTO, M.REPAIR_QUOTE),
    ClaimType.AUTO: (M.ID_CARD, M.POLICE_REPORT, M.PHOTO, M.REPAIR_QUOTE),
    ClaimType.RETURN_SHIPPING: (M.OTHER,),
    ClaimType.ACCOUNT_FRAUD: (M.ID_CARD, M.POLICE_REPORT),
    ClaimType.OTHER: (M.ID_CARD,),
}

T, B = ClaimType, BenefitKind
# Defaults by coverage code: the claim type and how it pays. Codes of the demo market and the
# market's usual names; a line (`auto_*`) overrides: everything of a motor policy is AUTO.
_BY_CODE: dict[str, tuple[ClaimType, BenefitKind]] = {
    "accidental_death": (T.ACCIDENT, B.SCALE),
    "traffic_extra": (T.ACCIDENT, B.SCALE),
    "passenger_accident": (T.ACCIDENT, B.SCALE),
    "fracture": (T.ACCIDENT, B.SCALE),
    "accident_extra": (T.DEATH, B.FIXED),
    "accident_medical": (T.MEDICAL, B.REIMBURSEMENT),
    "medical": (T.MEDICAL, B.REIMBURSEMENT),
    "medical_abroad": (T.MEDICAL, B.REIMBURSEMENT),
    "general_medical": (T.MEDICAL, B.REIMBURSEMENT),
    "critical_medical": (T.MEDICAL, B.REIMBURSEMENT),
    "inpatient": (T.MEDICAL, B.REIMBURSEMENT),
    "outpatient": (T.MEDICAL, B.REIMBURSEMENT),
    "proton": (T.MEDICAL, B.REIMBURSEMENT),
    "special_drugs": (T.MEDICAL, B.REIMBURSEMENT),
    "evacuation": (T.MEDICAL, B.REIMBURSEMENT),
    "hospital_allowance": (T.HOSPITAL_CASH, B.DAILY),
    "hospital_cash": (T.HOSPITAL_CASH, B.DAILY),
    "critical": (T.CRITICAL_ILLNESS, B.FIXED),
    "moderate": (T.CRITICAL_ILLNESS, B.FIXED),
    "mild": (T.CRITICAL_ILLNESS, B.FIXED),
    "cancer_extra": (T.CRITICAL_ILLNESS, B.FIXED),
    "death": (T.DEATH, B.FIXED),
    "total_disability": (T.DEATH, B.FIXED),
    "trip_delay": (T.TRAVEL_DELAY, B.HOURLY_BANDS),
    "delay": (T.TRAVEL_DELAY, B.FIXED),
    "cancel": (T.TRAVEL_DELAY, B.FIXED),
    "baggage": (T.BAGGAGE, B.REIMBURSEMENT),
    "screen": (T.PHONE_SCREEN, B.REIMBURSEMENT),
    "back_cover": (T.PHONE_SCREEN, B.REIMBURSEMENT),
    "accidental_damage": (T.PHONE_SCREEN, B.REIMBURSEMENT),
    "pet_medical": (T.PET_MEDICAL, B.REIMBURSEMENT),
    "pet_liability": (T.OTHER, B.REIMBURSEMENT),
    "structure": (T.HOME_DAMAGE, B.REIMBURSEMENT),
    "contents": (T.HOME_DAMAGE, B.REIMBURSEMENT),
    "water_leak": (T.HOME_DAMAGE, B.REIMBURSEMENT),
    "theft": (T.HOME_DAMAGE, B.REIMBURSEMENT),
    "liability": (T.HOME_DAMAGE, B.REIMBURSEMENT),
    "vehicle_damage": (T.AUTO, B.REIMBURSEMENT),
    "third_party": (T.AUTO, B.REIMBURSEMENT),
    "driver": (T.AUTO, B.REIMBURSEMENT),
    "passenger": (T.AUTO, B.REIMBURSEMENT),
    "outside_medical": (T.AUTO, B.REIMBURSEMENT),
    "death_disability": (T.AUTO, B.REIMBURSEMENT),
    "property": (T.AUTO, B.REIMBURSEMENT),
    "return_freight": (T.RETURN_SHIPPING, B.FIXED),
    "card_theft": (T.ACCOUNT_FRAUD, B.REIMBURSEMENT),
    "payment_account": (T.ACCOUNT_FRAUD, B.REIMBURSEMENT),
    "social_account": (T.ACCOUNT_FRAUD, B.REIMBURSEMENT),
    "waiver": (T.OTHER, B.NONE),
    "payer_waiver": (T.OTHER, B.NONE),
    "cash_value": (T.OTHER, B.NONE),
    "annuity": (T.OTHER, B.NONE),
}
# Medical reimbursement without social-insurance settlement pays 60 % of what it would with it
# (the market's 未经社保结算 60 %), except covers that say 社保内外 alike.
WITHOUT_SOCIAL_INSURANCE = Decimal("0.6")
_SOCIAL_INSURANCE_BLIND = frozenset(
    {"accident_medical", "medical_abroad", "evacuation", "proton", "special_drugs"}
)
# A daily benefit without stated days: the market's common cap of 180 days a year.
DEFAULT_MAX_DAYS = 180
# A travel delay without stated bands: every 5 hours of delay pays the per-claim amount once.
DEFAULT_DELAY_BAND_HOURS = 5
RATIO_PLACES = Decimal("0.0001")


def default_kind(code: str, line: str = "") -> tuple[ClaimType, BenefitKind]:
    """The claim type and benefit kind of a coverage code when the version's document is silent."""
    if line.startswith("auto_") and code != "passenger_accident":
        return T.AUTO, B.REIMBURSEMENT
    if code in _BY_CODE:
        return _BY_CODE[code]
    for part, kind in (("medical", (T.MEDICAL, B.REIMBURSEMENT)), ("death", (T.DEATH, B.FIXED))):
        if part in code:
            return kind
    return T.OTHER, B.REIMBURSEMENT


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _exclusions(items: Sequence[Mapping[str, Any]] | None) -> tuple[ExclusionTerm, ...]:
    return tuple(
        ExclusionTerm(cause=str(e["cause"]), clause=str(e.get("clause", "")), text=str(e.get("text", "")))
        for e in items or ()
    )


def _coverage(
    basis: CoverageBasis, doc: Mapping[str, Any], common: tuple[ExclusionTerm, ...], line: str
) -> CoverageTerms:
    claim_type, benefit_kind = default_kind(basis.code, line)
    if "claim_type" in doc:
        claim_type = ClaimType(doc["claim_type"])
    if "benefit_kind" in doc:
        benefit_kind = BenefitKind(doc["benefit_kind"])
    ratio = Decimal(basis.reimbursement_ratio).quantize(RATIO_PLACES)
    if "ratio_without_social_insurance" in doc:
        without = Decimal(str(doc["ratio_without_social_insurance"]))
    elif claim_type is T.MEDICAL and basis.code not in _SOCIAL_INSURANCE_BLIND:
        without = ratio * WITHOUT_SOCIAL_INSURANCE
    else:
        without = ratio
    per_claim = basis.per_claim_limit
    daily = _money(doc.get("daily_amount"))
    max_days = doc.get("max_days")
    if benefit_kind is B.DAILY:
        # A daily cover's catalog per-claim limit is its amount per day (每天 100 元).
        if daily is None:
            daily = per_claim if per_claim is not None else (basis.sum_insured / DEFAULT_MAX_DAYS)
            per_claim = None
        max_days = DEFAULT_MAX_DAYS if max_days is None else max_days
    bands = tuple(
        HourBand(int(b["hours"]), Decimal(str(b["amount"])).quantize(Decimal("0.01")))
        for b in doc.get("hour_bands") or ()
    )
    if benefit_kind is B.HOURLY_BANDS and not bands:
        step = per_claim if per_claim is not None else basis.sum_insured
        count = max(1, int(basis.sum_insured // step)) if step else 1
        bands = tuple(HourBand(DEFAULT_DELAY_BAND_HOURS * (n + 1), step * (n + 1)) for n in range(count))
        per_claim = None
    return CoverageTerms(
        code=basis.code,
        name=basis.name,
        claim_type=claim_type,
        benefit_kind=benefit_kind,
        sum_insured=Decimal(basis.sum_insured).quantize(Decimal("0.01")),
        deductible=Decimal(basis.deductible).quantize(Decimal("0.01")),
        deductible_basis=DeductibleBasis(doc.get("deductible_basis", DeductibleBasis.PER_CLAIM)),
        ratio_with_social_insurance=ratio,
        ratio_without_social_insurance=without.quantize(RATIO_PLACES),
        per_claim_limit=per_claim,
        annual_limit=basis.annual_limit,
        item_limits={str(k): Decimal(str(v)) for k, v in (doc.get("item_limits") or {}).items()},
        fixed_amount=_money(doc.get("fixed_amount")),
        daily_amount=None if daily is None else daily.quantize(Decimal("0.01")),
        max_days=None if max_days is None else int(max_days),
        hour_bands=bands,
        waiting_period_days=int(basis.waiting_period_days),
        exclusions=common + _exclusions(doc.get("exclusions")),
    )


def claim_terms(
    document: Mapping[str, Any] | None, coverages: Sequence[CoverageBasis], *, line: str = ""
) -> ClaimTerms:
    """The claim terms of a version's `claims` document (already valid against the product
    schema) for the coverages a policy was sold with; `line` is the product's line of business
    (a motor policy's covers are all AUTO). Omitted keys take the defaults above."""
    doc: Mapping[str, Any] = document or {}
    per_code: Mapping[str, Mapping[str, Any]] = doc.get("coverages") or {}
    common = _exclusions(doc.get("exclusions"))
    terms = tuple(_coverage(c, per_code.get(c.code) or {}, common, line) for c in coverages)
    materials = {
        ClaimType(kind): tuple(MaterialKind(m) for m in kinds)
        for kind, kinds in (doc.get("materials") or {}).items()
    }
    trigger_doc: Mapping[str, Any] | None = doc.get("trigger")
    trigger = None
    if trigger_doc:
        trigger = TriggerTerms(
            kind=str(trigger_doc["kind"]),
            delay_hours=int(trigger_doc.get("delay_hours", 0)),
            pays_on_cancellation=bool(trigger_doc.get("pays_on_cancellation", False)),
            plan_delay_hours={str(k): int(v) for k, v in (trigger_doc.get("plan_delay_hours") or {}).items()},
        )
    base = ClaimTerms(coverages=(), materials={})
    limit = _money(doc.get("fast_track_limit"))
    return replace(
        base,
        coverages=terms,
        materials=materials,
        fast_track_limit=base.fast_track_limit if limit is None else limit,
        report_within_days=int(doc.get("report_within_days", base.report_within_days)),
        trigger=trigger,
        four_eyes_amount=_money(doc.get("four_eyes_amount")),
    )
