"""The adjusters' actions on a claim, shared by the desk pages and the staff API: the form or
JSON body read into the use-case's arguments (bad numbers named by field), one use-case run,
the message to show."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest

from huibao.account.models import User
from huibao.claim import decisions, recoveries
from huibao.claim.models import Claim
from huibao.claim.rules import Loss
from huibao.claim.services import appeals, review
from huibao.claim.states import DecisionKind, RecoveryStatus
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.provider.models import ServiceProvider


def _amount(value: str, field: str) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValidationFailed(
            "金额格式不正确", errors=[FieldError(field, "amount_invalid", "金额格式不正确")]
        ) from None


def _int(value: str, field: str, label: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationFailed(
            f"{label}必须是整数", errors=[FieldError(field, "not_integer", f"{label}必须是整数")]
        )
    return int(value)


def decision_from(data: Any, claim: Claim) -> decisions.Decision:
    """The decision a form or an API body asks for (days / grade / delay refine the loss)."""
    kind = str(data.get("kind", "") or "")
    days = _int(str(data.get("days", "") or ""), "days", "住院天数")
    grade = _int(str(data.get("grade", "") or ""), "grade", "伤残等级")
    delay = _amount(str(data.get("delay_hours", "") or ""), "delay_hours")
    loss: Loss | None = None
    if days is not None or grade is not None or delay is not None:
        base = decisions.loss_of(claim)
        loss = Loss(
            amount_claimed=base.amount_claimed,
            social_insurance_settled=base.social_insurance_settled,
            cause=base.cause,
            days=days or 0,
            grade=grade,
            delay_hours=delay,
        )
    return decisions.Decision(
        kind=kind,  # type: ignore[arg-type]  # checked by decide()
        reason_code=str(data.get("reason_code", "") or "").strip(),
        clause=str(data.get("clause", "") or "").strip(),
        note=str(data.get("note", "") or "").strip(),
        amount=_amount(str(data.get("amount", "") or ""), "amount") if kind == DecisionKind.PARTIAL else None,
        loss=loss,
    )


def _provider(value: str) -> ServiceProvider | None:
    if not value:
        return None
    try:
        found = ServiceProvider.objects.filter(public_id=uuid.UUID(value)).first()
    except ValueError:
        found = None
    if found is None:
        raise ValidationFailed(
            "服务商不存在", errors=[FieldError("provider", "provider_not_found", "服务商不存在")]
        )
    return found


def run_action(request: HttpRequest, claim: Claim, action: str, data: Any) -> str:
    """One back-office action on the claim (pages and API); the message to show."""
    user = request.user
    if action == "start":
        review.start_review(claim, actor=user, request=request)
        return "已开始审核"
    if action == "assign":
        target = str(data.get("assignee", "") or "")
        to: Any = None
        if target == "me":
            to = user
        elif target.isdigit():
            to = User.objects.filter(pk=int(target)).first()
        if to is None and target not in ("", "auto"):
            raise ValidationFailed(
                "请选择理赔人员", errors=[FieldError("assignee", "assignee_invalid", "请选择理赔人员")]
            )
        review.assign(claim, to=to, actor=user, request=request)
        return "已分配"
    if action == "request_info":
        kinds = data.getlist("kinds") if hasattr(data, "getlist") else list(data.get("kinds") or [])
        review.request_info(
            claim, kinds=kinds, note=str(data.get("note", "") or ""), actor=user, request=request
        )
        return "已通知客户补充材料"
    if action == "investigate":
        review.send_to_investigation(
            claim,
            task_kind=str(data.get("task_kind", "") or ""),
            summary=str(data.get("summary", "") or ""),
            provider=_provider(str(data.get("provider", "") or "")),
            actor=user,
            request=request,
        )
        return "已委托服务商调查"
    if action == "decide":
        decided = decisions.decide(claim, decision_from(data, claim), actor=user, request=request)
        if decisions.pending_approval(decided) is not None:
            return "赔付金额超过复核金额，已提交另一位理赔人员复核"
        return "已作出理赔决定"
    if action == "confirm":
        decisions.confirm_approval(claim, actor=user, note=str(data.get("note", "") or ""), request=request)
        return "复核通过，已发起赔付"
    if action == "reject":
        decisions.reject_approval(claim, actor=user, note=str(data.get("note", "") or ""), request=request)
        return "已退回重新审核"
    if action == "retry_payment":
        decisions.retry_payment(
            claim,
            actor=user,
            payee_account=str(data.get("payee_account", "") or ""),
            payee_bank=str(data.get("payee_bank", "") or ""),
            request=request,
        )
        return "已重新发起赔付"
    if action == "uphold":
        appeals.uphold_appeal(claim, actor=user, note=str(data.get("note", "") or ""), request=request)
        return "申诉成立，案件重新审核"
    if action == "dismiss":
        appeals.dismiss_appeal(claim, actor=user, note=str(data.get("note", "") or ""), request=request)
        return "申诉已驳回"
    if action == "reopen":
        recoveries.reopen_claim(claim, actor=user, reason=str(data.get("note", "") or ""), request=request)
        return "案件已重新打开审核"
    if action in ("recovered", "write_off"):
        status = RecoveryStatus.RECOVERED if action == "recovered" else RecoveryStatus.WRITTEN_OFF
        recoveries.resolve_recovery(
            claim, status=status, actor=user, note=str(data.get("note", "") or ""), request=request
        )
        return "已记录追回结果"
    raise NotFound("没有这个操作", code="unknown_action")


ACTIONS = (
    "start",
    "assign",
    "request_info",
    "investigate",
    "decide",
    "confirm",
    "reject",
    "retry_payment",
    "uphold",
    "dismiss",
    "reopen",
    "recovered",
    "write_off",
)
