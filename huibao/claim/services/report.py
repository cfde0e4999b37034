"""First notice of loss (报案): the customer's own policy, a claim type its coverages allow, the
incident, the amount and the payee; eligibility checked at once and explained. Refused with the
fields named when anything is wrong: nothing is saved."""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huibao.claim import notices, selectors
from huibao.claim.lifecycle import record_step
from huibao.claim.models import Claim
from huibao.claim.states import FINAL_STATUSES, ClaimStatus
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, ValidationFailed
from huibao.core.money import to_fen
from huibao.core.validators import validate_bank_card
from huibao.notification import services as notification
from huibao.policy.models import Policy

REGION_RE = re.compile(r"^\d{6}$")
DESCRIPTION_MAX = 2000


@dataclass(frozen=True, slots=True)
class ReportInput:
    policy_id: str
    claim_type: str
    incident_date: datetime.date | None
    region_code: str
    place: str
    description: str
    amount_claimed: Any  # a decimal string or Decimal; checked here
    payee_name: str
    payee_account: str
    coverage_codes: tuple[str, ...] = ()
    cause_code: str = ""
    social_insurance_settled: bool = True
    payee_bank: str = ""


def _amount(value: Any, errors: list[FieldError]) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.append(FieldError("amount_claimed", "amount_invalid", "索赔金额须为数字（元）"))
        return None
    if not amount.is_finite():
        errors.append(FieldError("amount_claimed", "amount_invalid", "索赔金额须为数字（元）"))
        return None
    if amount <= 0:
        errors.append(FieldError("amount_claimed", "amount_not_positive", "索赔金额须大于0元"))
        return None
    if amount.as_tuple().exponent < -2 or amount >= Decimal("1000000000000"):  # type: ignore[operator]
        errors.append(FieldError("amount_claimed", "amount_invalid", "索赔金额最多两位小数、不超过万亿元"))
        return None
    return to_fen(amount)


def _form_errors(data: ReportInput) -> tuple[list[FieldError], Decimal | None, str]:
    errors: list[FieldError] = []
    if data.incident_date is None:
        errors.append(FieldError("incident_date", "required", "请填写出险日期"))
    if not REGION_RE.match(data.region_code or ""):
        errors.append(FieldError("region_code", "region_invalid", "出险地区须为6位行政区划代码"))
    if not (data.place or "").strip():
        errors.append(FieldError("place", "required", "请填写出险地点"))
    elif len(data.place) > 120:
        errors.append(FieldError("place", "too_long", "出险地点最多120字"))
    if not (data.description or "").strip():
        errors.append(FieldError("description", "required", "请简要描述出险经过"))
    elif len(data.description) > DESCRIPTION_MAX:
        errors.append(FieldError("description", "too_long", f"出险经过最多{DESCRIPTION_MAX}字"))
    if not (data.payee_name or "").strip() or len(data.payee_name) > 30:
        errors.append(FieldError("payee_name", "required", "请填写收款人姓名（最多30字）"))
    if len(data.payee_bank) > 40:
        errors.append(FieldError("payee_bank", "too_long", "开户银行最多40字"))
    account = ""
    try:
        account = validate_bank_card(data.payee_account, field="payee_account")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    amount = _amount(data.amount_claimed, errors)
    return errors, amount, account


def _new_number(now: datetime.datetime) -> str:
    """赔案号: LP + date + 8 random digits (unique; a clash is retried)."""
    return f"LP{timezone.localtime(now):%Y%m%d}{secrets.randbelow(10**8):08d}"


def report_claim(user: Any, data: ReportInput, *, today: datetime.date | None = None) -> Claim:
    """Reports a claim on the customer's own policy. Raises NotFound (not their policy),
    ValidationFailed (bad input or not eligible, every problem named), Conflict (an open claim of
    the same type and incident date exists: a retried report makes no second claim)."""
    policy = selectors.policy_for_report(user, data.policy_id)
    errors, amount, account = _form_errors(data)
    if data.incident_date is not None:
        found = selectors.check_eligibility(
            policy,
            claim_type=data.claim_type,
            incident_date=data.incident_date,
            coverage_codes=tuple(data.coverage_codes),
            cause=data.cause_code,
            today=today,
        )
        errors.extend(found.problems)
    if errors:
        raise ValidationFailed("报案信息有误：" + "；".join(e.message for e in errors), errors=errors)
    assert amount is not None and data.incident_date is not None
    terms = selectors.terms_of(policy)
    coverages = found.coverages
    insured = selectors.insured_of(policy)
    with transaction.atomic():
        # One report at a time per policy: a retry waits and then finds the claim just made.
        Policy.objects.select_for_update().filter(pk=policy.pk).first()
        same = (
            Claim.objects.filter(policy=policy, claim_type=data.claim_type, incident_date=data.incident_date)
            .exclude(status__in=FINAL_STATUSES)
            .first()
        )
        if same is not None:
            raise Conflict(
                f"该保单已有相同出险日期的{selectors.claim_type_label(data.claim_type)}案件：{same.number}",
                code="claim_exists",
                errors=[FieldError("incident_date", "claim_exists", f"已有未结案件{same.number}")],
            )
        now = timezone.now()
        claim = Claim(
            policy=policy,
            insurer_id=policy.insurer_id,
            insured=insured,
            claimant=user,
            claim_type=data.claim_type,
            coverage_codes=[c.code for c in coverages],
            required_materials=[m.value for m in terms.materials_for(coverages[0].claim_type)],
            incident_date=data.incident_date,
            region_code=data.region_code,
            place=data.place.strip(),
            description=data.description.strip(),
            cause_code=data.cause_code,
            amount_claimed=amount,
            social_insurance_settled=data.social_insurance_settled,
            payee_name=data.payee_name.strip(),
            payee_account=account,
            payee_account_last4=account[-4:],
            payee_bank=data.payee_bank.strip(),
            status=ClaimStatus.REPORTED,
            reported_at=now,
            status_since=now,
        )
        for _attempt in range(5):
            claim.number = _new_number(now)
            try:
                with transaction.atomic():
                    claim.save()
                break
            except IntegrityError:
                claim.pk = None
                continue
        else:  # pragma: no cover - 10^8 numbers a day
            raise Conflict("赔案号生成失败，请重试", code="claim_number_exhausted")
        record_step(claim, from_status="", actor=user, note="")
        audit.record(
            "claim.reported",
            "claim",
            claim.number,
            actor=user,
            after={
                "policy": policy.number,
                "claim_type": claim.claim_type,
                "coverages": claim.coverage_codes,
                "incident_date": claim.incident_date,
                "amount_claimed": str(amount),
            },
        )
        missing = selectors.checklist(claim).missing_text()
        notification.notify(
            user=user,
            template=notices.REPORTED,
            context={"claim_number": claim.number, "policy_number": policy.number, "missing": missing},
            dedup_key=f"claim:{claim.number}:reported",
            reference=claim.number,
        )
    return claim
