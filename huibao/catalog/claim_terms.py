"""What a product version pays and asks for at claim time (理赔条款), as frozen values.

Pure: no ORM, no I/O. A version's `claims` document (JSON beside `servicing`; schema in
`catalog/schema/product.schema.json`, `$defs/claims`) and its plans' coverages are read into these
values by `claim_terms(...)`, with defaults for a version that states nothing, so that the claim
code (eligibility, the checklist, the benefit rules in `claim/rules.py`) never reads raw
JSON. Money is `Decimal` CNY with two places; ratios have four.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


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

    kind: str  # "flight_delay" or "return_shipping"
    delay_hours: int = 0  # flight delay: the threshold that pays
    pays_on_cancellation: bool = False


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """Everything a version says about claims."""

    coverages: tuple[CoverageTerms, ...]
    materials: dict[ClaimType, tuple[MaterialKind, ...]]  # required materials per claim type
    fast_track_limit: Decimal = Decimal("2000.00")  # 小额快赔: at or under, decided by the system
    report_within_days: int = 0  # 0: no time limit to report after the incident
    trigger: TriggerTerms | None = None

    def coverage(self, code: str) -> CoverageTerms | None:
        return next((c for c in self.coverages if c.code == code), None)

    def claim_types(self) -> tuple[ClaimType, ...]:
        """The claim types the customer may choose, in coverage order, once each."""
        seen: dict[ClaimType, None] = {}
        for c in self.coverages:
            if c.benefit_kind is not BenefitKind.NONE:
                seen.setdefault(c.claim_type, None)
        return tuple(seen)
