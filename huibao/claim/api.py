"""Claim endpoints under /api/v1/claims: report (first notice of loss) on the customer's own
policy, eligibility explained before reporting, my claims, a claim with its timeline, checklist and
materials, upload a material (multipart), remove one, submit, withdraw. Session auth
(`django_auth`: 401 without a login, CSRF on POST); another customer's claim is 404."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.security import django_auth

from huibao.catalog.claim_terms import MaterialKind
from huibao.claim import selectors, services
from huibao.claim.eligibility import CLAIM_TYPE_LABELS, MATERIAL_LABELS
from huibao.claim.models import Claim, ClaimMaterial
from huibao.claim.states import MATERIALS_OPEN, OPEN_STATUSES, REMOVABLE, ClaimStatus
from huibao.core.api_schemas import FieldError, errors
from huibao.core.errors import NotFound
from huibao.core.masking import mask_bank_card

router = Router(tags=["claims"])

STATUS_TEXT = "；".join(f"{value}={label}" for value, label in ClaimStatus.choices)
KIND_TEXT = "；".join(f"{k.value}={v}" for k, v in MATERIAL_LABELS.items())
TYPE_TEXT = "；".join(f"{k.value}={v}" for k, v in CLAIM_TYPE_LABELS.items())


class ReportIn(Schema):
    policy_id: uuid.UUID = Field(description="保单 public id（本人的保单）")
    claim_type: str = Field(description=f"理赔类型：{TYPE_TEXT}")
    coverage_codes: list[str] = Field(default_factory=list, description="保障责任代码；空=该类型的全部责任")
    incident_date: datetime.date = Field(description="出险日期")
    region_code: str = Field(description="出险地区（6位行政区划代码）")
    place: str = Field(description="出险地点")
    description: str = Field(description="出险经过（加密保存）")
    cause_code: str = Field("", description="出险原因代码（如 pre_existing、drunk_driving；可空）")
    amount_claimed: Decimal = Field(description="索赔金额（元，须大于0）")
    social_insurance_settled: bool = Field(True, description="是否经社保结算（医疗类）")
    payee_name: str
    payee_account: str = Field(description="收款银行卡号（加密保存，仅显示后四位）")
    payee_bank: str = ""


class EligibilityIn(Schema):
    policy_id: uuid.UUID
    claim_type: str
    incident_date: datetime.date
    coverage_codes: list[str] = Field(default_factory=list)
    cause_code: str = ""


class EligibilityOut(Schema):
    eligible: bool
    problems: list[FieldError] = Field(description="不符合条件之处（字段、代码、中文说明）")
    lines: list[str] = Field(description="已通过的检查（中文）")
    coverages: list[str] = Field(description="适用的保障责任代码")
    materials: list[str] = Field(description=f"需要的理赔材料：{KIND_TEXT}")


class StepOut(Schema):
    from_status: str
    status: ClaimStatus = Field(description=f"理赔状态：{STATUS_TEXT}")
    line: str = Field(description="给客户看的进度说明（中文）")
    note: str
    at: datetime.datetime


class ChecklistItemOut(Schema):
    kind: MaterialKind = Field(description=f"材料类型：{KIND_TEXT}")
    label: str
    required: bool
    uploaded: int


class MaterialOut(Schema):
    id: uuid.UUID
    kind: MaterialKind
    content_type: str = Field(
        description="按文件内容识别的类型（image/jpeg、image/png、image/heic、application/pdf）"
    )
    size: int
    invoice_number: str
    duplicate: bool = Field(description="同一文件或同一发票号已出现在其他案件中（已标记，待审核）")
    uploaded_at: datetime.datetime


class ClaimSummaryOut(Schema):
    id: uuid.UUID
    number: str = Field(description="赔案号")
    policy_id: uuid.UUID
    policy_number: str
    product_name: str
    claim_type: str
    claim_type_label: str
    status: ClaimStatus = Field(description=f"理赔状态：{STATUS_TEXT}")
    status_label: str
    amount_claimed: str = Field(description="索赔金额（元，字符串）")
    approved_amount: str | None = Field(description="核定赔付金额（元）；未决定时为空")
    reported_at: datetime.datetime


class ClaimOut(ClaimSummaryOut):
    coverage_codes: list[str]
    incident_date: datetime.date
    region_code: str
    place: str
    cause_code: str
    social_insurance_settled: bool
    payee_name: str
    payee_account: str = Field(description="收款账户（脱敏）")
    decision_kind: str
    reason_code: str
    clause: str = Field(description="拒赔或核减引用的条款")
    benefit: dict[str, Any] = Field(description="赔付金额逐项说明")
    materials_complete_at: datetime.datetime | None
    decided_at: datetime.datetime | None
    paid_at: datetime.datetime | None
    can_upload: bool
    can_remove: bool
    can_submit: bool
    can_withdraw: bool
    missing: list[MaterialKind] = Field(description="仍缺少的材料")
    checklist: list[ChecklistItemOut]
    materials: list[MaterialOut]
    timeline: list[StepOut]


class WithdrawIn(Schema):
    reason: str = Field("", max_length=200)


def summary_out(claim: Claim) -> dict[str, Any]:
    policy = claim.policy
    return {
        "id": claim.public_id,
        "number": claim.number,
        "policy_id": policy.public_id,
        "policy_number": policy.number,
        "product_name": policy.product_version.product.name,
        "claim_type": claim.claim_type,
        "claim_type_label": selectors.claim_type_label(claim.claim_type),
        "status": claim.status,
        "status_label": claim.get_status_display(),
        "amount_claimed": str(claim.amount_claimed),
        "approved_amount": None if claim.approved_amount is None else str(claim.approved_amount),
        "reported_at": timezone.localtime(claim.reported_at),
    }


def material_out(m: ClaimMaterial) -> dict[str, Any]:
    return {
        "id": m.public_id,
        "kind": m.kind,
        "content_type": m.content_type,
        "size": m.size,
        "invoice_number": m.invoice_number,
        "duplicate": m.duplicate_of_id is not None,
        "uploaded_at": timezone.localtime(m.uploaded_at),
    }


def claim_out(claim: Claim) -> dict[str, Any]:
    listed = selectors.checklist(claim)
    return {
        **summary_out(claim),
        "coverage_codes": list(claim.coverage_codes),
        "incident_date": claim.incident_date,
        "region_code": claim.region_code,
        "place": claim.place,
        "cause_code": claim.cause_code,
        "social_insurance_settled": claim.social_insurance_settled,
        "payee_name": claim.payee_name,
        "payee_account": mask_bank_card(claim.payee_account),
        "decision_kind": claim.decision_kind,
        "reason_code": claim.reason_code,
        "clause": claim.clause,
        "benefit": claim.benefit or {},
        "materials_complete_at": claim.materials_complete_at,
        "decided_at": claim.decided_at,
        "paid_at": claim.paid_at,
        "can_upload": claim.status in MATERIALS_OPEN,
        "can_remove": claim.status in REMOVABLE,
        "can_submit": claim.status in (ClaimStatus.REPORTED, ClaimStatus.INFO_REQUESTED) and listed.complete,
        "can_withdraw": claim.status in OPEN_STATUSES,
        "missing": list(listed.missing),
        "checklist": [
            {"kind": i.kind, "label": i.label, "required": i.required, "uploaded": i.uploaded}
            for i in listed.items
        ],
        "materials": [material_out(m) for m in selectors.materials_of(claim)],
        "timeline": [
            {"from_status": s.from_status, "status": s.to_status, "line": s.line, "note": s.note, "at": s.at}
            for s in selectors.timeline(claim)
        ],
    }


def _reload(request: HttpRequest, claim_id: uuid.UUID) -> dict[str, Any]:
    return claim_out(selectors.claim_for_customer(request.user, claim_id))


@router.post(
    "/claims/eligibility",
    response={200: EligibilityOut, **errors(404, 422)},
    auth=django_auth,
    summary="报案前检查：出险日期是否在保障期间内、等待期、保障责任、责任免除、报案时限",
)
def check_eligibility(request: HttpRequest, payload: EligibilityIn) -> dict[str, Any]:
    policy = selectors.policy_for_report(request.user, payload.policy_id)
    terms = selectors.terms_of(policy)
    found = selectors.check_eligibility(
        policy,
        claim_type=payload.claim_type,
        incident_date=payload.incident_date,
        coverage_codes=tuple(payload.coverage_codes),
        cause=payload.cause_code,
        terms=terms,
    )
    materials = terms.materials_for(found.coverages[0].claim_type) if found.coverages else ()
    return {
        "eligible": found.ok,
        "problems": [e.as_dict() for e in found.problems],
        "lines": list(found.lines),
        "coverages": [c.code for c in found.coverages],
        "materials": [m.value for m in materials],
    }


@router.post(
    "/claims",
    response={201: ClaimOut, **errors(404, 409, 422)},
    auth=django_auth,
    url_name="claim_report",
    summary="报案（第一时间报案）：不符合条件时422，指出字段和原因，不保存任何数据",
)
def report(request: HttpRequest, payload: ReportIn) -> Status:
    claim = services.report_claim(
        request.user,
        services.ReportInput(
            policy_id=str(payload.policy_id),
            claim_type=payload.claim_type,
            coverage_codes=tuple(payload.coverage_codes),
            incident_date=payload.incident_date,
            region_code=payload.region_code,
            place=payload.place,
            description=payload.description,
            cause_code=payload.cause_code,
            amount_claimed=payload.amount_claimed,
            social_insurance_settled=payload.social_insurance_settled,
            payee_name=payload.payee_name,
            payee_account=payload.payee_account,
            payee_bank=payload.payee_bank,
        ),
    )
    return Status(201, _reload(request, claim.public_id))


@router.get("/claims", response={200: list[ClaimSummaryOut]}, auth=django_auth, summary="我的理赔")
def my_claims(request: HttpRequest) -> list[dict[str, Any]]:
    return [summary_out(c) for c in selectors.claims_of(request.user)[:200]]


@router.get(
    "/claims/{claim_id}",
    response={200: ClaimOut, **errors(404)},
    auth=django_auth,
    url_name="claim_detail",
    summary="理赔详情：进度时间线、材料清单、已上传材料",
)
def detail(request: HttpRequest, claim_id: uuid.UUID) -> dict[str, Any]:
    return _reload(request, claim_id)


@router.post(
    "/claims/{claim_id}/materials",
    response={201: MaterialOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="上传理赔材料（multipart：kind、file、invoice_number）；按内容识别图片/PDF，超过大小限制拒绝",
)
def upload(
    request: HttpRequest,
    claim_id: uuid.UUID,
    file: File[UploadedFile],
    kind: Form[str],
    invoice_number: Form[str] = "",
) -> Status:
    material = services.upload_material(
        request.user, claim_id, kind=kind, file=file, invoice_number=invoice_number
    )
    return Status(201, material_out(material))


@router.delete(
    "/claims/{claim_id}/materials/{material_id}",
    response={200: ClaimOut, **errors(404, 409)},
    auth=django_auth,
    summary="删除材料（提交审核前）",
)
def remove(request: HttpRequest, claim_id: uuid.UUID, material_id: uuid.UUID) -> dict[str, Any]:
    claim = selectors.claim_for_customer(request.user, claim_id)
    material = selectors.material_for_customer(request.user, material_id)
    if material.claim_id != claim.pk:
        raise NotFound("材料不存在", code="material_not_found")
    services.remove_material(request.user, material_id)
    return _reload(request, claim_id)


@router.post(
    "/claims/{claim_id}/submit",
    response={200: ClaimOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="提交审核：材料齐全后进入 materials_complete（补充材料后回到 under_review）",
)
def submit(request: HttpRequest, claim_id: uuid.UUID) -> dict[str, Any]:
    services.submit_claim(request.user, claim_id)
    return _reload(request, claim_id)


@router.post(
    "/claims/{claim_id}/withdraw",
    response={200: ClaimOut, **errors(404, 409)},
    auth=django_auth,
    summary="撤销报案",
)
def withdraw(request: HttpRequest, claim_id: uuid.UUID, payload: WithdrawIn) -> dict[str, Any]:
    services.withdraw_claim(request.user, claim_id, reason=payload.reason)
    return _reload(request, claim_id)
