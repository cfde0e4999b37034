"""Shapes of the application API (`huibao.application.api`) and the builders that fill them.

Inputs are lenient on purpose (strings default to "", shares are parsed by the rules, exactly as
entered) so that a wrong value comes back as the project's 422 naming the field
(`applicant.id_number`, `insured[0].beneficiaries`…) from `rules.check_data`. Only types that
pydantic would otherwise coerce are strict here: health answers are JSON booleans (`"yes"`, 1 and
`"true"` are refused), orders and occupation classes JSON integers; list and map lengths carry the
bounds of `rules` (the schema refuses a longer one before anything reads it).

Outputs never carry a full ID number, phone number or health answer: those are masked here for
everyone, and names are masked for anyone but the customer who owns the application. The owner
gets their own data unmasked only from `GET /applications/{id}/data` (to fill the edit form).
"""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal
from typing import Any

from django.utils import timezone
from ninja import Field, Schema
from pydantic import StrictBool, StrictInt

from huibao.application import rules
from huibao.application.models import Application
from huibao.application.rules import ApplicantInput, ApplicationData, BeneficiaryInput, InsuredInput
from huibao.application.selectors import (
    disclosure_progress,
    doc_key,
    identity_is_current,
    needs_terms_agreement,
    state_items,
)
from huibao.application.services._common import _is_owner
from huibao.application.services.loaded import take_loaded
from huibao.application.services.sign import required_signatures, signature_method
from huibao.application.states import (
    ApplicationStatus,
    Channel,
    SignatureMethod,
    SignerRole,
    UnderwritingOutcome,
)
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone

EXAMPLE_ID = "110105199003071239"

# --- errors ---------------------------------------------------------------------------------------


class FieldErrorOut(Schema):
    field: str = Field(..., examples=["applicant.id_number"])
    code: str = Field(..., examples=["checksum"])
    message: str = Field(..., examples=["身份证号码校验位错误"])


class ErrorOut(Schema):
    """The one error shape (422 invalid input, 404 not found or not yours, 409 wrong state,
    403 not allowed)."""

    code: str = Field(..., examples=["validation_failed"])
    message: str = Field(..., examples=["application data is invalid"])
    errors: list[FieldErrorOut] = Field(default_factory=list)


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

# --- inputs ---------------------------------------------------------------------------------------


class StartIn(Schema):
    quote_ids: list[str] = Field(
        ...,
        description="one quote per product (several make a bundle: one application, several policies)",
        examples=[["3f0c6d0e-6a51-4c8a-9f61-2a7c1f0b8d11"]],
    )
    channel: str = Field(Channel.API, description="app · web · api · partner", examples=["app"])


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


class ClauseConfirmedOut(ClauseOut):
    next_clause: ClauseOut | None = Field(
        None, description="with `show_next=true`: the next key clause, now shown (null if none can be)"
    )


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


# --- builders -------------------------------------------------------------------------------------

NEXT_STEP_LABELS: dict[str, str] = {
    "fill_data": "请填写投保信息",
    "verify_identity": "请完成投保人实名认证",
    "confirm": "请核对并确认投保信息",
    "wait_underwriting": "人工核保中，请等待核保结论",
    "agree_terms": "请确认核保结论（加费或除外责任）",
    "read_documents": "请阅读投保文件",
    "confirm_clauses": "请逐条确认重要条款",
    "face_check": "请完成人脸识别",
    "sign": "请签署投保单",
    "pay": "请支付保费",
    "complete_payment": "请在支付页面完成支付",
    "wait_issue": "已支付，正在出单",
    "done": "已承保",
    "declined": "很抱歉，本次投保未通过核保",
    "expired": "投保单已失效，请重新投保",
    "cancelled": "投保单已撤销",
}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _seconds_left(min_seconds: int, opened_at: datetime.datetime | None, now: datetime.datetime) -> int:
    if opened_at is None:
        return int(min_seconds)
    return max(0, int(min_seconds - (now - opened_at).total_seconds() + 0.999))


def document_out(doc: Any, reading: Any, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    opened = reading.opened_at if reading is not None else None
    done = reading.completed_at if reading is not None else None
    return {
        "id": doc.pk,
        "kind": doc.kind,
        "title": doc.title,
        "min_read_seconds": doc.min_read_seconds,
        "content_sha256": doc.content_sha256,
        "state": "read" if done else ("reading" if opened else "unopened"),
        "opened_at": opened,
        "completed_at": done,
        "seconds_left": 0 if done else _seconds_left(doc.min_read_seconds, opened, now),
    }


def clause_out(doc: Any, clause: dict[str, Any], row: Any) -> dict[str, Any]:
    shown = row.shown_at if row is not None else None
    confirmed = row.confirmed_at if row is not None else None
    return {
        "document_id": doc.pk,
        "code": str(clause.get("code", "")),
        "kind": str(clause.get("kind", "")),
        "title": str(clause.get("title", "")),
        "text": str(clause.get("text", "")),
        "state": "confirmed" if confirmed else ("shown" if shown else "pending"),
        "shown_at": shown,
        "confirmed_at": confirmed,
    }


def _payment_state(payment: Any) -> dict[str, Any] | None:
    if payment is None:
        return None
    from huibao.payment.states import OPEN_STATUSES

    is_open = payment.status in OPEN_STATUSES and payment.expires_at > timezone.now()
    return {
        "id": payment.public_id,
        "status": payment.status,
        "amount": _money(payment.amount),
        "checkout_url": payment.checkout_url if is_open else None,
        "expires_at": payment.expires_at,
        "paid_at": payment.paid_at,
        "refunded_amount": _money(payment.refunded_amount),
    }


def payment_open_out(payment: Any) -> dict[str, Any]:
    return {
        "id": payment.public_id,
        "amount": _money(payment.amount),
        "status": payment.status,
        "checkout_url": payment.checkout_url,
        "expires_at": payment.expires_at,
    }


def _face_state(app: Application) -> dict[str, Any]:
    status = "none"
    if app.face_passed_at is not None:
        status = "passed"
    elif app.face_check_id is not None:
        from huibao.identity.models import FaceCheck

        found = FaceCheck.objects.filter(pk=app.face_check_id).values_list("status", flat=True).first()
        status = str(found or "none")
    return {"required": app.face_required, "status": status, "passed_at": app.face_passed_at}


def next_step(
    app: Application,
    *,
    items: list[Any],
    identity_ok: bool,
    progress: dict[str, Any],
    signed: bool,
    payment: Any,
) -> str:
    """What the customer must do next; the server enforces the same order in `services`."""
    status = app.status
    if status == ApplicationStatus.DRAFT:
        if not app.applicant_name or any(i.insured_id is None for i in items):
            return "fill_data"
        return "verify_identity" if not identity_ok else "confirm"
    if status == ApplicationStatus.REFERRED:
        return "wait_underwriting"
    if status == ApplicationStatus.ACCEPTED:
        if app.terms_agreed_at is None:
            return "agree_terms"
        if progress["unread"]:
            return "read_documents"
        if progress["unconfirmed"]:
            return "confirm_clauses"
        if not identity_ok:
            return "verify_identity"
        if app.face_required and app.face_passed_at is None:
            return "face_check"
        return "sign" if not signed else "pay"
    if status == ApplicationStatus.SIGNED:
        return "pay"
    if status == ApplicationStatus.AWAITING_PAYMENT:
        from huibao.payment.states import OPEN_STATUSES

        if payment is not None and payment.status == "succeeded":
            return "wait_issue"
        if payment is not None and payment.status in OPEN_STATUSES and payment.expires_at > timezone.now():
            return "complete_payment"
        return "pay"
    if status == ApplicationStatus.ISSUED:
        return "done"
    return str(status)


def _person_name(name: str, owner: bool) -> str:
    return name if owner else mask_name(name)


# Statuses without signatures: a customer signs an accepted application, and the only way back
# to draft (`_back_to_draft`) deletes them; a referred one comes from draft.
UNSIGNED_STATUSES = frozenset({ApplicationStatus.DRAFT, ApplicationStatus.REFERRED})


def _signatures(
    app: Application, persons: list[Any], rows: list[Any] | None = None
) -> dict[tuple[str, int | None], Any]:
    """The signatures by (role, insured position); `persons` are the application's insured
    persons (a signature's insured is one of them); `rows`, the application's signatures when
    already loaded."""
    if app.status in UNSIGNED_STATUSES:
        return {}
    position = {p.pk: p.position for p in persons}
    if rows is None:
        rows = list(app.signatures.only("role", "insured", "signed_at"))
    return {(s.role, position.get(s.insured_id) if s.insured_id is not None else None): s for s in rows}


def application_out(app: Application, *, user: Any) -> dict[str, Any]:
    """The whole state of an application as the caller may see it."""
    from huibao.payment.models import Payment

    owner = _is_owner(app, user)
    now = timezone.now()
    # Each piece is read once here (unless the use-case that returned `app` left it current) and
    # handed to the services that need it.
    loaded = take_loaded(app)
    items = loaded.items if loaded.items is not None else state_items(app)
    progress = disclosure_progress(
        app, items=items, readings=loaded.readings, confirmations=loaded.confirmations
    )
    identity_ok = identity_is_current(app)
    payment = Payment.objects.filter(pk=app.payment_id).first() if app.payment_id else None
    persons = (
        loaded.persons
        if loaded.persons is not None
        else list(app.insured_persons.prefetch_related("beneficiaries").order_by("position"))
    )
    signatures = _signatures(app, persons, loaded.signatures)
    requirements = required_signatures(app, items=items, persons=persons) if app.applicant_name else []
    required = [
        {
            "role": r.role,
            "insured_position": r.insured_position,
            "name": _person_name(r.name, owner),
            "method": r.method,
            "signed": (r.role, r.insured_position) in signatures,
            "signed_at": getattr(signatures.get((r.role, r.insured_position)), "signed_at", None),
        }
        for r in requirements
    ]
    signed = bool(required) and all(r["signed"] for r in required)
    # Only the columns shown: the policy app owns the rest of its row. Policies are issued in the
    # transaction that makes the application `issued` (a final status): none before.
    policies = (
        [
            {"id": pid, "number": number, "status": status, "effective_at": starts, "expires_at": ends}
            for pid, number, status, starts, ends in app.policies.order_by("id").values_list(
                "public_id", "number", "status", "effective_at", "expires_at"
            )
        ]
        if app.status == ApplicationStatus.ISSUED
        else []
    )
    step = next_step(
        app, items=items, identity_ok=identity_ok, progress=progress, signed=signed, payment=payment
    )
    return {
        "id": app.public_id,
        "number": app.number,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "next_step": step,
        "next_step_label": NEXT_STEP_LABELS.get(step, step),
        "channel": app.channel,
        "is_owner": owner,
        "created_at": app.created_at,
        "expires_at": app.expires_at,
        "total_premium": _money(app.total_premium),
        "data_revision": app.data_revision,
        "confirmed": app.is_confirmed,
        "confirmed_at": app.confirmed_at,
        "applicant": (
            {
                "name": _person_name(app.applicant_name, owner),
                "id_number": mask_id_number(app.applicant_id_number),
                "phone": mask_phone(app.applicant_phone),
                "email": mask_email(app.applicant_email),
                "region": app.applicant_region,
            }
            if app.applicant_name
            else None
        ),
        "insured": [
            {
                "position": p.position,
                "relation": p.relation,
                "name": _person_name(p.name, owner),
                "id_number": mask_id_number(p.id_number),
                "birth_date": p.birth_date if owner else None,
                "beneficiaries": [
                    {
                        "name": _person_name(b.name, owner),
                        "id_number": mask_id_number(b.id_number),
                        "relation": b.relation,
                        "order": b.order,
                        "share_percent": f"{b.share_percent:.2f}",
                    }
                    for b in p.beneficiaries.all()
                ],
            }
            for p in persons
        ],
        "beneficiary_mode": app.beneficiary_mode,
        "subject": {str(k): str(v) for k, v in (app.subject or {}).items()},
        "items": [
            {
                "position": i.position,
                "product_code": i.product_version.product.code,
                "product_name": i.product_version.product.name,
                "insurer": i.product_version.product.insurer.short_name,
                "product_version": i.product_version.number,
                "plan_code": i.plan.code,
                "plan_name": i.plan.name,
                "insured_position": i.insured.position if i.insured else None,
                "sum_insured": _money(i.sum_insured),
                "base_premium": _money(i.base_premium),
                "premium": _money(i.premium),
                "loading_percent": f"{i.loading_percent:.2f}",
                "exclusions": [str(e) for e in (i.exclusions or [])],
                "underwriting": {
                    "outcome": i.underwriting_outcome,
                    "label": str(UnderwritingOutcome(i.underwriting_outcome).label),
                    "reasons": list(i.underwriting_reasons or []),
                },
            }
            for i in items
        ],
        "documents": [
            document_out(d, progress["readings"].get(doc_key(d)), now=now) for d in progress["documents"]
        ],
        "clauses": [
            clause_out(d, c, progress["confirmations"].get((doc_key(d), c.get("code"))))
            for d, c in progress["clauses"]
        ],
        "identity": {
            "verified": identity_ok,
            "verified_at": app.identity_verified_at if identity_ok else None,
        },
        "face": _face_state(app),
        "terms": {
            "required": needs_terms_agreement(app),
            "agreed_at": app.terms_agreed_at,
        },
        "signature_method": (
            requirements[0].method
            if requirements
            else (signature_method(app, items=items) if items else SignatureMethod.HANDWRITTEN)
        ),
        "signatures": required,
        "payment": _payment_state(payment),
        "policies": policies,
        "application_form": {
            "ready": app.application_form_id is not None,
            "url": (
                f"/api/v1/applications/{app.public_id}/application-form.pdf"
                if app.application_form_id is not None
                else None
            ),
        },
    }


def application_summary(app: Application) -> dict[str, Any]:
    return {
        "id": app.public_id,
        "number": app.number,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "products": [i.product_version.product.name for i in app.items.all()],
        "total_premium": _money(app.total_premium),
        "created_at": app.created_at,
        "expires_at": app.expires_at,
    }


def _customer_of(app: Application) -> str | None:
    customer = app.customer if app.customer_id is not None else None
    return mask_phone(customer.phone) if customer is not None else None


def agent_application_out(app: Application, *, agent: Any) -> dict[str, Any]:
    """The state as the agent who started the application sees it: names, ID and phone numbers
    masked (the agent is never the owner), and who the customer is (phone masked)."""
    return {
        **application_out(app, user=agent),
        "customer": _customer_of(app),
        "invited": bool(app.invite_token_hash),
    }


def agent_application_summary(app: Application) -> dict[str, Any]:
    return {**application_summary(app), "customer": _customer_of(app), "confirmed": app.is_confirmed}


def data_out(app: Application) -> dict[str, Any]:
    """The owner's own data, unmasked, in the shape `PUT /data` takes (to fill the edit form)."""
    persons = app.insured_persons.prefetch_related("beneficiaries").order_by("position")
    return {
        "applicant": {
            "name": app.applicant_name,
            "id_number": app.applicant_id_number,
            "phone": app.applicant_phone,
            "email": app.applicant_email,
            "address": app.applicant_address,
            "region": app.applicant_region,
            "occupation": app.applicant_occupation,
        },
        "insured": [
            {
                "relation": p.relation,
                "name": p.name,
                "id_number": p.id_number,
                "phone": p.phone,
                "occupation": p.occupation,
                "occupation_class": p.occupation_class,
                "health_answers": json.loads(p.health_answers or "{}"),
                "beneficiaries": [
                    {
                        "name": b.name,
                        "id_number": b.id_number,
                        "relation": b.relation,
                        "share_percent": b.share_percent,
                        "order": b.order,
                    }
                    for b in p.beneficiaries.all()
                ],
            }
            for p in persons
        ],
        "beneficiary_mode": app.beneficiary_mode,
        "subject": {str(k): str(v) for k, v in (app.subject or {}).items()},
    }
