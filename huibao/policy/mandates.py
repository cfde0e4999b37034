"""A policy's payment authorisation (代扣授权): the stored mandate its instalments are collected
through. The customer signs one (a new one replaces the old, which is revoked at the provider),
or revokes it (the instalments then need paying by hand). Billing keeps the mandate
(`billing.sign_mandate` / `attach_mandate` / `revoke_mandate`: agreement id and masked account
only); the policy's audit trail says what the customer did.

Under a double submit or a retry the schedule's row lock serialises the two: a schedule has at
most one active mandate, whatever arrives twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from huibao.billing import services as billing
from huibao.billing.models import PaymentMandate, PremiumSchedule
from huibao.billing.states import MandateStatus, ScheduleStatus
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, ValidationFailed
from huibao.core.masking import mask_name
from huibao.core.validators import validate_bank_card, validate_resident_id
from huibao.policy.models import Policy

OBJ_TYPE = "policy"
OPEN_SCHEDULE_STATUSES = (ScheduleStatus.ACTIVE, ScheduleStatus.LAPSED)


@dataclass(frozen=True, slots=True)
class MandateView:
    """What the page shows of the stored authorisation: never the account number."""

    masked_account: str
    provider: str
    status: str
    status_label: str
    signed_at: Any
    revoked_at: Any
    active: bool


def _schedule(policy: Policy) -> PremiumSchedule | None:
    return (
        PremiumSchedule.objects.filter(reference_kind=OBJ_TYPE, reference_id=policy.number)
        .select_related("mandate")
        .first()
    )


def mandate_of(policy: Policy) -> MandateView | None:
    schedule = _schedule(policy)
    mandate = schedule.mandate if schedule is not None else None
    if mandate is None:
        return None
    return MandateView(
        masked_account=mandate.masked_account,
        provider=mandate.provider,
        status=mandate.status,
        status_label=str(MandateStatus(mandate.status).label),
        signed_at=mandate.signed_at,
        revoked_at=mandate.revoked_at,
        active=mandate.status == MandateStatus.ACTIVE,
    )


def _locked_open_schedule(policy: Policy) -> PremiumSchedule:
    schedule = (
        PremiumSchedule.objects.select_for_update()
        .filter(reference_kind=OBJ_TYPE, reference_id=policy.number)
        .first()
    )
    if schedule is None:
        raise Conflict("这张保单不是分期缴费，无需代扣授权", code="no_instalments")
    if schedule.status not in OPEN_SCHEDULE_STATUSES:
        raise Conflict("这张保单已无待缴保费，无需代扣授权", code="schedule_closed")
    return schedule


def _required(payer_name: str, payer_id_number: str, account_number: str) -> None:
    errors = []
    if not payer_name.strip():
        errors.append(FieldError("payer_name", "required", "请填写付款人姓名"))
    if not payer_id_number.strip():
        errors.append(FieldError("payer_id_number", "required", "请填写付款人身份证号"))
    if not account_number.strip():
        errors.append(FieldError("account_number", "required", "请填写银行卡号"))
    if errors:
        raise ValidationFailed("请完整填写代扣授权信息", code="validation_failed", errors=errors)


def sign(
    policy: Policy,
    *,
    user: Any,
    payer_name: str,
    payer_id_number: str,
    account_number: str,
    request: HttpRequest | None = None,
) -> PaymentMandate:
    """Signs a new authorisation at the provider and collects the policy's future instalments
    through it; an active one before is revoked. Bad input (a field named) changes nothing."""
    _required(payer_name, payer_id_number, account_number)
    id_number = validate_resident_id(payer_id_number.strip(), field="payer_id_number").number
    card = validate_bank_card(account_number.replace(" ", ""), field="account_number")
    with transaction.atomic():
        schedule = _locked_open_schedule(policy)
        previous = schedule.mandate
        mandate = billing.sign_mandate(
            customer_id=user.pk, payer_name=payer_name, payer_id_number=id_number, account_number=card
        )
        billing.attach_mandate(schedule, mandate)
        if previous is not None and previous.status == MandateStatus.ACTIVE:
            billing.revoke_mandate(previous)
        audit.record(
            "policy.mandate_signed",
            OBJ_TYPE,
            policy.number,
            actor=user,
            request=request,
            before={"account": previous.masked_account if previous else ""},
            after={"account": mandate.masked_account, "payer_name": mask_name(mandate.payer_name)},
        )
    return mandate


def revoke(policy: Policy, *, user: Any, request: HttpRequest | None = None) -> PaymentMandate:
    """Revokes the policy's active authorisation: instalments are no longer collected
    automatically (they still fall due, and overdue ones start the grace period)."""
    with transaction.atomic():
        schedule = (
            PremiumSchedule.objects.select_for_update(of=("self",))
            .filter(reference_kind=OBJ_TYPE, reference_id=policy.number)
            .select_related("mandate")
            .first()
        )
        mandate = schedule.mandate if schedule is not None else None
        if mandate is None or mandate.status != MandateStatus.ACTIVE:
            raise Conflict("没有生效中的代扣授权", code="no_active_mandate")
        revoked = billing.revoke_mandate(mandate)
        audit.record(
            "policy.mandate_revoked",
            OBJ_TYPE,
            policy.number,
            actor=user,
            request=request,
            before={"account": mandate.masked_account, "status": MandateStatus.ACTIVE},
            after={"status": MandateStatus.REVOKED},
        )
    return revoked
