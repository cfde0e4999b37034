"""`/api/v1/distribution/…`: agreements and the sales hierarchy for staff; a channel or branch
manager (SalesUnitMember) reads their own subtree only. Operators create and move units and
change agreements' states; every refusal is 422 naming the field (or 403/404/409)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.distribution import selectors, services
from huibao.distribution.models import InsurerAgreement, SalesUnit

router = Router(tags=["distribution"])


class AgreementOut(Schema):
    id: int
    number: str
    insurer_code: str
    insurer_name: str
    agency_code: str
    status: str
    lines: list[str]
    product_codes: list[str]
    valid_from: datetime.date
    valid_until: datetime.date | None
    settlement_period: str
    days_to_pay: int
    premium_collector: str
    net_settlement: bool


class StatusIn(Schema):
    status: str = Field(..., examples=["suspended"])
    reason: str = Field("", max_length=200)


class UnitOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    parent_code: str | None
    path: str
    is_active: bool
    licence_number: str
    licence_lines: list[str]
    licence_valid_until: datetime.date | None


class UnitIn(Schema):
    code: str = Field(..., max_length=32, examples=["A-SH-0104"])
    name: str = Field(..., max_length=64)
    kind: str = Field(..., examples=["agent"])
    parent_code: str | None = Field(None, max_length=32, examples=["SH-T1"])
    licence_number: str = Field("", max_length=64)
    licence_lines: list[str] = Field(default_factory=list)
    licence_valid_until: datetime.date | None = None


class MoveIn(Schema):
    parent_code: str = Field(..., max_length=32)


def _staff(request: HttpRequest) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    return request.user


def _require(user: Any, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied("无权进行此操作", code="not_allowed")


def _agreement_out(a: InsurerAgreement) -> dict[str, Any]:
    return {
        "id": a.pk,
        "number": a.number,
        "insurer_code": a.insurer.code,
        "insurer_name": a.insurer.name,
        "agency_code": a.agency.code,
        "status": a.status,
        "lines": list(a.lines),
        "product_codes": sorted(p.code for p in a.products.all()),
        "valid_from": a.valid_from,
        "valid_until": a.valid_until,
        "settlement_period": a.settlement_period,
        "days_to_pay": a.days_to_pay,
        "premium_collector": a.premium_collector,
        "net_settlement": a.net_settlement,
    }


def _unit_out(u: SalesUnit) -> dict[str, Any]:
    parent = u.path.rsplit("/", 1)[0].rsplit("/", 1)[-1] if "/" in u.path else None
    return {
        "id": u.pk,
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "parent_code": parent,
        "path": u.path,
        "is_active": u.is_active,
        "licence_number": u.licence_number,
        "licence_lines": list(u.licence_lines),
        "licence_valid_until": u.licence_valid_until,
    }


@router.get(
    "/distribution/agreements",
    response={200: list[AgreementOut], **errors(403)},
    summary="合作协议列表",
)
def list_agreements(request: HttpRequest, status: str = "") -> list[dict[str, Any]]:
    user = _staff(request)
    _require(user, "distribution.view_insureragreement")
    listed = selectors.agreements_visible_to(user).prefetch_related("products")
    if status:
        listed = listed.filter(status=status)
    return [_agreement_out(a) for a in listed]


@router.get(
    "/distribution/agreements/{agreement_id}",
    response={200: AgreementOut, **errors(403, 404)},
    summary="合作协议详情",
)
def get_agreement(request: HttpRequest, agreement_id: int) -> dict[str, Any]:
    user = _staff(request)
    _require(user, "distribution.view_insureragreement")
    found = selectors.agreement_for_user(user, agreement_id)
    if found is None:
        raise NotFound(f"协议 {agreement_id} 不存在")
    return _agreement_out(found)


@router.post(
    "/distribution/agreements/{agreement_id}/status",
    response={200: AgreementOut, **errors(403, 404, 409, 422)},
    summary="变更协议状态",
    description="draft→active, active→suspended|ended, suspended→active|ended. Activation checks the "
    "agency's licence scope, the dates and overlaps (422 naming `lines`, `valid_until`…); a move "
    "the table forbids is 409 `invalid_transition`; suspending or ending needs a `reason`.",
)
def change_status(request: HttpRequest, agreement_id: int, payload: StatusIn) -> dict[str, Any]:
    user = _staff(request)
    _require(user, "distribution.change_insureragreement")
    found = selectors.agreement_for_user(user, agreement_id)
    if found is None:
        raise NotFound(f"协议 {agreement_id} 不存在")
    services.transition(found, payload.status, actor=user, reason=payload.reason)
    return _agreement_out(found)


@router.get(
    "/distribution/units",
    response={200: list[UnitOut], **errors(403)},
    summary="销售组织",
    description="Every unit for staff who read the hierarchy; a channel or branch manager's own "
    "subtree(s) only; nobody else.",
)
def list_units(request: HttpRequest) -> list[dict[str, Any]]:
    user = _staff(request)
    if not services.may_see_hierarchy(user):
        raise PermissionDenied("无权查看销售组织", code="not_allowed")
    return [_unit_out(u) for u in selectors.units_visible_to(user)]


@router.get(
    "/distribution/units/{code}",
    response={200: UnitOut, **errors(403, 404)},
    summary="销售组织详情",
)
def get_unit(request: HttpRequest, code: str) -> dict[str, Any]:
    user = _staff(request)
    found = selectors.units_visible_to(user).filter(code=code).first()
    if found is None:
        raise NotFound(f"组织 {code} 不存在")
    return _unit_out(found)


def _parent(code: str | None) -> SalesUnit | None:
    if not code:
        return None
    found = selectors.unit_by_code(code)
    if found is None:
        raise ValidationFailed(
            "unknown parent", errors=[FieldError("parent_code", "unknown", "上级组织不存在")]
        )
    return found


@router.post(
    "/distribution/units",
    response={201: UnitOut, **errors(403, 422)},
    summary="添加销售组织或代理人",
)
def create_unit(request: HttpRequest, payload: UnitIn) -> Status[dict[str, Any]]:
    user = _staff(request)
    _require(user, "distribution.add_salesunit")
    unit = services.create_unit(
        services.UnitData(
            code=payload.code,
            name=payload.name,
            kind=payload.kind,
            parent=_parent(payload.parent_code),
            licence_number=payload.licence_number,
            licence_lines=tuple(payload.licence_lines),
            licence_valid_until=payload.licence_valid_until,
        ),
        actor=user,
    )
    return Status(201, _unit_out(unit))


@router.post(
    "/distribution/units/{code}/move",
    response={200: UnitOut, **errors(403, 404, 422)},
    summary="移动销售组织（含下级）",
)
def move_unit(request: HttpRequest, code: str, payload: MoveIn) -> dict[str, Any]:
    user = _staff(request)
    _require(user, "distribution.change_salesunit")
    unit = selectors.unit_by_code(code)
    if unit is None:
        raise NotFound(f"组织 {code} 不存在")
    target = _parent(payload.parent_code)
    assert target is not None
    return _unit_out(services.move_unit(unit, target, actor=user))
