"""Shapes of the application API (`huibao.application.api.router`); `presenters` fills them.

Inputs are lenient on purpose (strings default to "", shares are parsed by the rules, exactly as
entered) so that a wrong value comes back as the project's 422 naming the field
(`applicant.id_number`, `insured[0].beneficiaries`…) from `rules.check_data`. Only types that
pydantic would otherwise coerce are strict here: health answers are JSON booleans (`"yes"`, 1 and
`"true"` are refused), orders and occupation classes JSON integers; list and map lengths carry the
bounds of `rules` (the schema refuses a longer one before anything reads it).

Outputs never carry a full ID number, phone number or health answer (see `presenters`).
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt

from huibao.application import rules
from huibao.application.rules import ApplicantInput, ApplicationData, BeneficiaryInput, InsuredInput
from huibao.application.states import (
    Channel,
    SignerRole,
)
from huibao.core.api_schemas import ShownPremiumOut, errors

EXAMPLE_ID = "110105199003071239"

# --- errors ---------------------------------------------------------------------------------------


# The error statuses of most endpoints here, each answering the API's one error shape.
ERRORS: dict[int, Any] = errors(403, 404, 409, 422)

# --- inputs ---------------------------------------------------------------------------------------


class StartIn(Schema):
    quote_ids: list[str] = Field(
        ...,
        description="one quote per product (several make a bundle: one application, several policies)",
        examples=[["3f0c6d0e-6a51-4c8a-9f61-2a7c1f0b8d11"]],
    )
    channel: str = Field(Channel.API, description="app · web · api · partner", examples=["app"])
    seller_code: str | None = Field(
        None,
        max_length=32,
        description="the referral code of the channel, sub-channel or agent the customer came with",
        examples=["CH-QUNAR"],
    )


class AgentStartIn(Schema):
    quote_ids: list[str] = Field(
        ...,
        description="one quote per product (several make a bundle), as on the agent's page",
        examples=[["3f0c6d0e-6a51-4c8a-9f61-2a7c1f0b8d11"]],
    )


class ClaimIn(Schema):
    token: str = Field(
        ...,
        max_length=300,
        description="the token of the agent's invitation (or the whole link `…/apply/invite/<token>/`)",
        examples=["pD6u0Qw0mJ6c2kHk8yVbq3xYw1xq9Z0F"],
    )


class ApplicantIn(Schema):
    name: str = Field("", examples=["王小明"])
    id_number: str = Field("", description="18位居民身份证号", examples=[EXAMPLE_ID])
    phone: str = Field("", examples=["13900001111"])
    email: str = Field("", examples=["wang@example.com"])
    address: str = Field("", examples=["北京市朝阳区建国路1号"])
    region: str = Field("", description="行政区划代码（6位）；空则取身份证号前两位所在省", examples=[""])
    occupation: str = Field("", examples=["软件工程师"])


class BeneficiaryIn(Schema):
    name: str = Field("", examples=["李红"])
    id_number: str = Field("", examples=["110105199205150022"])
    relation: str = Field("", description="与被保险人关系：spouse · child · parent", examples=["spouse"])
    # a string is handed on as typed; a JSON number as its shortest decimal form (see rules.parse_share)
    share_percent: Decimal | str = Field(
        ..., description="受益比例（%），最多两位小数，同一顺位合计恰为100（不四舍五入）", examples=["100"]
    )
    order: StrictInt = Field(1, description=f"受益顺位：1 至 {rules.MAX_BENEFICIARY_ORDER}", examples=[1])


class InsuredIn(Schema):
    relation: str = Field(..., description="与投保人关系：self · spouse · child · parent", examples=["self"])
    name: str = Field("", description="relation=self 时不填（取投保人）", examples=[""])
    id_number: str = Field("", examples=[""])
    phone: str = Field("", examples=[""])
    occupation: str = Field("", examples=[""])
    occupation_class: StrictInt | None = Field(None, description="1 至 6", examples=[1])
    health_answers: dict[str, StrictBool] = Field(
        default_factory=dict,
        max_length=rules.MAX_HEALTH_ANSWERS,
        description="健康告知：问题代码 → true/false（JSON 布尔值）；每个问题都须回答，未知代码被拒绝",
        examples=[{"cancer": False}],
    )
    beneficiaries: list[BeneficiaryIn] = Field(
        default_factory=list,
        max_length=rules.MAX_BENEFICIARIES,
        description="指定受益人（beneficiary_mode=named 时）",
    )


class ApplicationDataIn(Schema):
    applicant: ApplicantIn
    insured: list[InsuredIn] = Field(default_factory=list, max_length=rules.MAX_INSURED)
    beneficiary_mode: str = Field("legal", description="legal（法定）· named（指定）", examples=["legal"])
    subject: dict[str, str] = Field(
        default_factory=dict,
        max_length=rules.MAX_SUBJECT_FIELDS,
        description="保险标的（车牌号等），见产品的 application_rules.subject；未知代码被拒绝",
    )

    def to_domain(self) -> ApplicationData:
        a = self.applicant
        return ApplicationData(
            applicant=ApplicantInput(
                name=a.name,
                id_number=a.id_number,
                phone=a.phone,
                email=a.email,
                address=a.address,
                region=a.region,
                occupation=a.occupation,
            ),
            insured=[
                InsuredInput(
                    relation=i.relation,
                    name=i.name,
                    id_number=i.id_number,
                    phone=i.phone,
                    occupation=i.occupation,
                    occupation_class=i.occupation_class,
                    health_answers=dict(i.health_answers),
                    beneficiaries=[
                        BeneficiaryInput(
                            name=b.name,
                            id_number=b.id_number,
                            relation=b.relation,
                            share_percent=b.share_percent,
                            order=b.order,
                        )
                        for b in i.beneficiaries
                    ],
                )
                for i in self.insured
            ],
            beneficiary_mode=self.beneficiary_mode,
            subject=dict(self.subject),
        )


class IdentityIn(Schema):
    name: str = Field(..., max_length=64, examples=["王小明"])
    id_number: str = Field(..., max_length=32, examples=[EXAMPLE_ID])


class ConfirmIn(Schema):
    data_revision: int | None = Field(
        None,
        description="the data revision the customer checked (data_revision in the state); 409 if it moved",
    )


class FaceIn(Schema):
    return_url: str = Field(
        ...,
        max_length=2000,
        description="人脸识别完成后返回的地址（本站路径或本站URL）",
        examples=["/apply/face-done/"],
    )


class FaceOut(Schema):
    session_url: str = Field(..., examples=["https://huibao.example/identity/sandbox/face/SBF0A1B2C3/"])


class ReadIn(Schema):
    scrolled_to_end: bool = Field(..., description="客户已将文件滑动至文末", examples=[True])


class ClauseRefIn(Schema):
    document_id: int = Field(..., description="the document the clause is in (`clauses[].document_id`)")
    code: str = Field(..., max_length=48, examples=["exclusion_1"])


class ClausesConfirmIn(Schema):
    clauses: list[ClauseRefIn] = Field(
        ..., max_length=200, description="the key clauses to confirm, in the order they are listed"
    )


class SignatureIn(Schema):
    role: str = Field(SignerRole.APPLICANT, description="applicant · insured", examples=["applicant"])
    insured_position: int | None = Field(None, description="role=insured 时：被保险人序号", examples=[None])
    ink: dict[str, Any] | None = Field(
        None,
        description="手写签名（method=handwritten）：{width, height, strokes: [[[x, y, t], …], …]}",
        examples=[{"width": 600, "height": 240, "strokes": [[[40, 60, 0], [80, 120, 16]]]}],
    )
    confirmed: bool = Field(False, description="勾选确认签署（method=confirmation）", examples=[True])


# --- outputs --------------------------------------------------------------------------------------


class ApplicantOut(Schema):
    name: str = Field(..., examples=["王小明"])
    id_number: str = Field(..., description="masked", examples=["110***********1239"])
    phone: str = Field(..., description="masked", examples=["139****1111"])
    email: str = Field("", description="masked; empty when not given", examples=["w***@example.com"])
    region: str


class BeneficiaryOut(Schema):
    name: str
    id_number: str = Field(..., description="masked")
    relation: str
    order: int
    share_percent: str = Field(..., examples=["100.00"])


class InsuredOut(Schema):
    position: int
    relation: str
    name: str
    id_number: str = Field(..., description="masked")
    birth_date: datetime.date | None
    beneficiaries: list[BeneficiaryOut]


class UnderwritingOut(Schema):
    outcome: str = Field(..., examples=["accept"])
    label: str = Field(..., examples=["标准体承保"])
    reasons: list[Any]


class ItemOut(Schema):
    position: int
    product_code: str
    product_name: str
    insurer: str
    product_version: int
    plan_code: str
    plan_name: str
    insured_position: int | None
    sum_insured: str | None = Field(..., examples=["100000.00"])
    base_premium: str = Field(..., examples=["100.00"])
    premium: str = Field(..., description="after any loading", examples=["100.00"])
    payment_mode: str | None = Field(..., examples=["monthly"])
    per_period: ShownPremiumOut
    loading_percent: str = Field(..., examples=["0.00"])
    exclusions: list[str]
    underwriting: UnderwritingOut


class DocumentOut(Schema):
    id: int
    kind: str = Field(..., examples=["terms"])
    title: str = Field(..., examples=["意外伤害保险条款"])
    min_read_seconds: int = Field(..., examples=[3])
    content_sha256: str
    state: str = Field(..., description="unopened · reading · read", examples=["reading"])
    opened_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    seconds_left: int = Field(..., description="how long the server still counts before `read` is accepted")


class DocumentTextOut(DocumentOut):
    body: str = Field(..., description="the text to show (returned when the document is opened)")


class ClauseOut(Schema):
    document_id: int
    code: str = Field(..., examples=["exclusions"])
    kind: str = Field("", examples=["exclusion"])
    title: str = Field(..., examples=["责任免除"])
    text: str
    state: str = Field(..., description="pending · shown · confirmed", examples=["shown"])
    shown_at: datetime.datetime | None
    confirmed_at: datetime.datetime | None
    min_read_seconds: int = Field(0, description="how long the clause must be shown before it is confirmed")
    seconds_left: int = Field(0, description="how long the server still counts before `confirm` is accepted")
    applies_to: list[int] = Field(
        default_factory=list,
        description="the other documents holding the same clause: confirming it once confirms it for them",
    )


class ClauseConfirmedOut(ClauseOut):
    next_clause: ClauseOut | None = Field(
        None, description="with `show_next=true`: the next key clause, now shown (null if none can be)"
    )


class ClausesConfirmedOut(Schema):
    clauses: list[ClauseOut] = Field(..., description="the clauses confirmed, in the order asked")


class DocumentReadOut(DocumentTextOut):
    next_clause: ClauseOut | None = Field(
        None, description="with `show_next=true`: the first key clause to confirm, now shown (or null)"
    )


class IdentityOut(Schema):
    verified: bool = Field(..., description="the applicant's current name and ID were verified")
    verified_at: datetime.datetime | None


class FaceStateOut(Schema):
    required: bool
    status: str = Field(..., description="none · pending · passed · failed · expired", examples=["none"])
    passed_at: datetime.datetime | None


class TermsOut(Schema):
    required: bool = Field(..., description="a loading or exclusion awaits the customer's agreement")
    agreed_at: datetime.datetime | None


class SignatureRequirementOut(Schema):
    role: str = Field(..., examples=["applicant"])
    insured_position: int | None
    name: str
    method: str = Field(..., examples=["confirmation"])
    signed: bool
    signed_at: datetime.datetime | None


class PaymentStateOut(Schema):
    id: uuid.UUID
    status: str = Field(..., examples=["pending"])
    amount: str = Field(..., examples=["100.00"])
    checkout_url: str | None = Field(..., description="the hosted pay page, while the payment is open")
    expires_at: datetime.datetime
    paid_at: datetime.datetime | None
    refunded_amount: str
    failure_reason: str = Field("", description="the provider's code once it ended unpaid (card_declined…)")
    failure_message: str = Field(
        "", description="why it ended unpaid, in the payer's words (Chinese), to show instead of the code"
    )


class PolicyOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    effective_at: datetime.datetime | None
    expires_at: datetime.datetime | None


class FormOut(Schema):
    ready: bool = Field(..., description="the signed application form PDF has been rendered")
    url: str | None


class ApplicationOut(Schema):
    id: uuid.UUID
    number: str = Field(..., examples=["TB20261122160816A1B2C3D4"])
    status: str = Field(..., examples=["accepted"])
    status_label: str = Field(..., examples=["核保通过"])
    next_step: str = Field(
        ...,
        description=(
            "what the client should do next: fill_data · verify_identity · confirm · "
            "wait_underwriting · agree_terms · read_documents · confirm_clauses · face_check · sign · "
            "pay · complete_payment · wait_issue · done · declined · expired · cancelled"
        ),
        examples=["read_documents"],
    )
    next_step_label: str = Field(..., examples=["请阅读投保文件"])
    channel: str
    is_owner: bool = Field(..., description="the caller is the customer who owns the application")
    created_at: datetime.datetime
    expires_at: datetime.datetime
    total_premium: str = Field(..., examples=["100.00"])
    per_period: ShownPremiumOut = Field(
        ..., description="the first payment and, when paid monthly, the yearly total"
    )
    data_revision: int
    confirmed: bool
    confirmed_at: datetime.datetime | None
    applicant: ApplicantOut | None
    insured: list[InsuredOut]
    beneficiary_mode: str
    subject: dict[str, str]
    items: list[ItemOut]
    documents: list[DocumentOut]
    clauses: list[ClauseOut]
    identity: IdentityOut
    face: FaceStateOut
    terms: TermsOut
    signature_method: str
    signatures: list[SignatureRequirementOut]
    payment: PaymentStateOut | None
    policies: list[PolicyOut]
    application_form: FormOut


class StepDoneOut(Schema):
    """The answer of a step asked with `?state=none`: the application's keys and where it stands,
    not its whole state (`GET /applications/{id}` answers that). For a client that does not show
    the state after each step; the server then reads and builds nothing more."""

    id: uuid.UUID
    status: str = Field(..., examples=["draft"])
    status_label: str = Field(..., examples=["草稿"])
    data_revision: int


class ApplicationSummaryOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    status_label: str
    products: list[str]
    total_premium: str
    created_at: datetime.datetime
    expires_at: datetime.datetime


class ApplicationListOut(Schema):
    total: int
    items: list[ApplicationSummaryOut]


class AgentApplicationOut(ApplicationOut):
    customer: str | None = Field(
        ..., description="the customer who opened the invitation: phone masked; null until then"
    )
    invited: bool = Field(..., description="an invitation link was made (only the latest one works)")


class AgentApplicationSummaryOut(ApplicationSummaryOut):
    customer: str | None = Field(..., description="phone masked; null until the customer opened the link")
    confirmed: bool


class AgentApplicationListOut(Schema):
    total: int
    items: list[AgentApplicationSummaryOut]


class InvitationOut(Schema):
    url: str = Field(..., examples=["https://huibao.example/apply/invite/pD6u0Qw0mJ6c2kHk8yVbq3xYw1xq9Z0F/"])
    token: str = Field(..., description="shown only here; only its SHA-256 is stored")
    expires_at: datetime.datetime = Field(
        ..., description="the link works until the application expires, or until a new link is made"
    )
    qr_svg: str = Field(..., description="the link as an inline SVG QR code (scales with its container)")


class PaymentOpenOut(Schema):
    id: uuid.UUID
    amount: str = Field(..., examples=["100.00"])
    status: str = Field(..., examples=["pending"])
    checkout_url: str = Field(..., examples=["https://huibao.example/payment/sandbox/pay/SBX0A1B2/"])
    expires_at: datetime.datetime
