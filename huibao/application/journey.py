"""What stands before each step of the application journey."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from huibao.application.models import (
    Application,
    ApplicationItem,
    InsuredPerson,
)
from huibao.application.selectors import (
    data_digest,
    declined_items,
    disclosure_progress,
    identity_is_current,
    items_of,
)
from huibao.application.states import (
    ApplicationStatus,
)
from huibao.core.errors import FieldError


def _missing_data(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    errors = []
    if not app.applicant_name:
        errors.append(FieldError("applicant", "required", "请填写投保人信息"))
    if any(i.insured_id is None for i in items):
        errors.append(FieldError("insured", "required", "请填写被保险人信息"))
    return errors


def _missing_for_confirmation(app: Application, items: Sequence[ApplicationItem]) -> list[FieldError]:
    errors = _missing_data(app, items)
    if not identity_is_current(app):
        errors.append(FieldError("identity", "not_verified", "请先完成投保人实名认证"))
    return errors


def missing_before_signing(
    app: Application,
    *,
    items: Sequence[ApplicationItem] | None = None,
    persons: Sequence[InsuredPerson] | None = None,
    progress: dict[str, Any] | None = None,
) -> list[FieldError]:
    """What still stands before signing. `items` / `persons` as for `data_digest`; `progress`
    (`disclosure_progress` of this request) saves reading the readings again."""
    errors: list[FieldError] = []
    if app.status != ApplicationStatus.ACCEPTED:
        errors.append(
            FieldError(
                "status", "not_accepted", f"投保单当前状态为“{ApplicationStatus(app.status).label}”，不能签名"
            )
        )
        return errors
    if items is None:
        items = items_of(app)
    for item in declined_items(items):
        errors.append(
            FieldError(
                "items",
                "item_declined",
                f"“{item.product_version.product.name}”核保未通过（拒保），"
                "请选择不投保该产品继续投保，或撤销投保单",
            )
        )
    if not app.is_confirmed or app.confirmed_digest != data_digest(app, items=items, persons=persons):
        errors.append(FieldError("confirmation", "not_confirmed", "请先确认投保信息"))
    if app.terms_agreed_at is None:
        errors.append(FieldError("terms", "not_agreed", "请先确认核保结论（加费或除外责任）"))
    if progress is None:
        progress = disclosure_progress(app, items=items)
    for doc in progress["unread"]:
        errors.append(FieldError("documents", "unread", f"请先阅读《{doc.title}》"))
    for _doc, clause in progress["unconfirmed"]:
        errors.append(FieldError("clauses", "unconfirmed", f"请逐条确认“{clause.get('title', '')}”"))
    if not identity_is_current(app):
        errors.append(FieldError("identity", "not_verified", "请先完成实名认证"))
    if app.face_required and app.face_passed_at is None:
        errors.append(FieldError("face", "not_passed", "本次投保需要完成人脸识别"))
    return errors
