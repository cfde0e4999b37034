"""The customer's premiums of a policy paid in instalments: what is paid and due, paying an
instalment now at the hosted checkout, and reinstating a lapsed policy (复效).

Billing keeps the schedule and takes the payments (`billing.services.pay_instalment_now`,
`reinstate_by_checkout`); the provider's notification settles the instalments in billing's paid
hook, and billing's hooks move the policy (`services.py`, "billing → lifecycle"): a paid overdue
instalment brings it back in force, the premiums owed of a lapsed one reinstate it. What the
policy adds: the payer (the holder, real name), the product's reinstatement period and its
health questions asked again — an answer that needs underwriting refers the reinstatement to an
underwriter (`reinstatement.py`: a work item of the staff servicing queue, approved or declined).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing import selectors as billing_selectors
from huibao.billing import services as billing
from huibao.billing.errors import NotReinstatable
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.states import UNPAID_STATUSES, InstalmentStatus, ScheduleStatus
from huibao.catalog.rules import questions_for
from huibao.catalog.servicing import servicing_rules
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.payment.models import Payment
from huibao.policy import reinstatement
from huibao.policy.models import Policy
from huibao.policy.states import PartyRole, PolicyStatus, ReferralStatus

OBJ_TYPE = "policy"
PAYABLE_STATUSES = frozenset({PolicyStatus.IN_FORCE, PolicyStatus.IN_GRACE, PolicyStatus.REINSTATED})


@dataclass(frozen=True, slots=True)
class PremiumLine:
    number: int
    due_on: datetime.date
    amount: Decimal
    status: str
    status_label: str
    paid: bool
    paid_at: datetime.datetime | None
    overdue: bool
    payable: bool  # the one the customer may pay now
    changed_by: tuple[str, ...] = ()  # the endorsements that changed its amount (the schedule's history)


@dataclass(frozen=True, slots=True)
class HealthQuestion:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ReinstatementOffer:
    """Whether the lapsed policy can be reinstated online today, and what it costs, line by line."""

    available: bool
    refusal: str  # why not, when not available
    lapsed_on: datetime.date | None
    until: datetime.date | None
    lines: tuple[PremiumLine, ...]
    total: Decimal
    health_questions: tuple[HealthQuestion, ...]
    # The underwriter's part when the answers were referred (`reinstatement.py`): referred,
    # approved (no questions asked again) or declined (with the reason); empty when never.
    referral_status: str = ""
    referral_reason: str = ""


@dataclass(frozen=True, slots=True)
class Premiums:
    policy: Policy
    has_schedule: bool
    mode: str
    schedule_status: str
    total: Decimal
    paid_total: Decimal
    lines: tuple[PremiumLine, ...]
    payable: PremiumLine | None
    grace_until: datetime.date | None  # the last day of grace of the oldest unpaid instalment
    reinstatement: ReinstatementOffer | None  # for a lapsed policy
    # The premium term (缴费期间) and the policy year shown: 第 policy_year/premium_years 年.
    policy_year: int = 1
    premium_years: int = 1
    # A premium that steps up by policy year: (year, its premium, the year shown) for each year.
    years: tuple[tuple[int, Decimal, bool], ...] = ()


def schedule_of(policy: Policy) -> PremiumSchedule | None:
    return PremiumSchedule.objects.filter(reference_kind=OBJ_TYPE, reference_id=policy.number).first()


def _lines(
    rows: list[Instalment],
    today: datetime.date,
    *,
    payable_number: int | None,
    causes: dict[int, list[str]] | None = None,
) -> tuple[PremiumLine, ...]:
    return tuple(
        PremiumLine(
            number=i.number,
            due_on=i.due_on,
            amount=i.amount,
            status=i.status,
            status_label=str(InstalmentStatus(i.status).label),
            paid=i.status == InstalmentStatus.PAID,
            paid_at=i.paid_at,
            overdue=i.status in UNPAID_STATUSES and i.due_on < today,
            payable=i.number == payable_number,
            changed_by=tuple((causes or {}).get(i.number, ())),
        )
        for i in rows
    )


def _payable_number(policy: Policy, schedule: PremiumSchedule, rows: list[Instalment]) -> int | None:
    """The oldest unpaid instalment of an active schedule of a covering policy, unless a
    mandate charge of it is under way."""
    if policy.status not in PAYABLE_STATUSES or schedule.status != ScheduleStatus.ACTIVE:
        return None
    oldest = next((i for i in rows if i.status in UNPAID_STATUSES), None)
    if oldest is None:
        return None
    from huibao.billing.models import Collection
    from huibao.billing.states import CollectionStatus

    if Collection.objects.filter(instalment=oldest, status=CollectionStatus.PENDING).exists():
        return None
    return oldest.number


def _reinstatement_years(policy: Policy) -> int:
    return servicing_rules(policy.product_version.servicing).reinstatement.years


def health_questions_of(policy: Policy) -> tuple[HealthQuestion, ...]:
    """The product version's health questions (健康告知), asked again to reinstate where its
    servicing rules say so — only those asked of the insured person's sex, as on the application
    (`catalog.rules.questions_for`: 目前是否怀孕 is not asked of a man, and an answer sent anyway
    is neither checked nor kept)."""
    if not servicing_rules(policy.product_version.servicing).reinstatement.health_questions:
        return ()
    questions = [
        q
        for q in (policy.product_version.eligibility or {}).get("health_questions") or []
        if isinstance(q, Mapping) and q.get("code")
    ]
    if any(q.get("sex") for q in questions):  # the insured's sex is read only when it matters
        questions = questions_for(questions, _insured_sex(policy))
    return tuple(HealthQuestion(code=str(q["code"]), text=str(q.get("text", ""))) for q in questions)


def _insured_sex(policy: Policy) -> str | None:
    """The insured person's sex as issued or last corrected ("M"/"F"; None when not recorded:
    every question is asked then)."""
    sex = policy.parties.filter(role=PartyRole.INSURED).values_list("sex", flat=True).first()
    return sex or None


def reinstatement_offer(
    policy: Policy, *, today: datetime.date | None = None, schedule: PremiumSchedule | None = None
) -> ReinstatementOffer:
    today = today or timezone.localdate()
    schedule = schedule or schedule_of(policy)
    questions = health_questions_of(policy)

    def refused(message: str, lapsed_on: datetime.date | None = None) -> ReinstatementOffer:
        return ReinstatementOffer(False, message, lapsed_on, None, (), Decimal("0.00"), questions)

    if policy.status != PolicyStatus.LAPSED:
        return refused(f"保单当前状态为“{PolicyStatus(policy.status).label}”，无需复效")
    if schedule is None:
        return refused("该保单没有分期缴费计划，请联系客服办理复效")
    years = _reinstatement_years(policy)
    try:
        quote = billing.reinstatement_quote(schedule, today, years=years)
    except NotReinstatable as exc:
        return refused(exc.message, schedule.lapsed_on)
    rows = list(schedule.instalments.filter(number__in=quote.numbers).order_by("number"))
    referral = reinstatement.referral_for(policy, schedule.lapsed_on)
    status = referral.status if referral is not None else ""
    refusal = "" if quote.numbers else "没有应缴的保费"
    if status == ReferralStatus.REFERRED:
        refusal = "您的复效申请正在人工核保中，结果将通过站内信通知您。"
    elif status == ReferralStatus.DECLINED and referral is not None:
        refusal = (
            f"您的复效申请未通过人工核保（{referral.decision_reason}），暂不能在线复效，如有疑问请联系客服。"
        )
    return ReinstatementOffer(
        available=bool(quote.numbers) and status not in (ReferralStatus.REFERRED, ReferralStatus.DECLINED),
        refusal=refusal,
        lapsed_on=schedule.lapsed_on,
        until=quote.until,
        lines=_lines(rows, today, payable_number=None),
        total=quote.amount,
        # answers an underwriter accepted are not asked again
        health_questions=() if status == ReferralStatus.APPROVED else questions,
        referral_status=status,
        referral_reason=referral.decision_reason if referral is not None else "",
    )


def premiums_of(policy: Policy, *, today: datetime.date | None = None) -> Premiums:
    """The premiums page and API of a policy (the caller checked it is the customer's)."""
    today = today or timezone.localdate()
    schedule = schedule_of(policy)
    if schedule is None:
        return Premiums(policy, False, "", "", policy.premium, policy.premium, (), None, None, None)
    rows = billing_selectors.year_rows(schedule.instalments.all(), schedule.mode, schedule.policy_year)
    payable = _payable_number(policy, schedule, rows)
    causes = billing_selectors.change_causes(OBJ_TYPE, policy.number)
    lines = _lines(rows, today, payable_number=payable, causes=causes)
    oldest_unpaid = next((line for line in lines if line.status in UNPAID_STATUSES), None)
    grace_until = (
        billing_rules.grace_ends(oldest_unpaid.due_on, schedule.grace_days)
        if oldest_unpaid is not None and oldest_unpaid.overdue and policy.status == PolicyStatus.IN_GRACE
        else None
    )
    return Premiums(
        policy=policy,
        has_schedule=True,
        mode=schedule.mode,
        schedule_status=schedule.status,
        # the year's premium (the whole schedule's for a one-year term)
        total=sum(
            (
                line.amount
                for line in lines
                if billing_rules.year_of(line.number, schedule.mode) == schedule.policy_year
            ),
            Decimal("0.00"),
        ),
        paid_total=sum((line.amount for line in lines if line.paid), Decimal("0.00")),
        lines=lines,
        payable=next((line for line in lines if line.payable), None),
        grace_until=grace_until,
        reinstatement=(
            reinstatement_offer(policy, today=today, schedule=schedule)
            if policy.status == PolicyStatus.LAPSED
            else None
        ),
        policy_year=schedule.policy_year,
        premium_years=schedule.premium_years,
        years=tuple(
            (n, Decimal(str(p)), n == schedule.policy_year)
            for n, p in enumerate(schedule.year_premiums or (), start=1)
        ),
    )


def _fresh(policy: Policy) -> Policy:
    """The policy as it is now, not locked: billing locks the schedule, and billing's hooks lock
    the schedule before the policy — taking the policy first here could deadlock with them. Its
    status is advisory; the schedule's status under billing's lock decides."""
    fresh = Policy.objects.select_related("product_version").filter(pk=policy.pk).first()
    if fresh is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return fresh


def _payer(policy: Policy) -> tuple[str, str]:
    holder = policy.parties.filter(role=PartyRole.HOLDER).first()
    if holder is None or not holder.id_number:
        raise Conflict("保单缺少投保人实名信息，请联系客服", code="payer_unknown")
    return holder.name, holder.id_number


def pay_instalment(policy: Policy, number: int, *, user: Any, request: HttpRequest | None = None) -> Payment:
    """Opens the hosted checkout for instalment `number` (the oldest unpaid, of a covering
    policy); the same open payment again on a retry. Raises Conflict / NotFound naming the field
    `instalment`; nothing changes then."""
    with transaction.atomic():
        locked = _fresh(policy)
        if locked.status not in PAYABLE_STATUSES:
            if locked.status == PolicyStatus.LAPSED:
                message, code = "保单已因欠缴保费失效，请办理复效", "policy_lapsed"
            else:
                message = f"保单当前状态为“{PolicyStatus(locked.status).label}”，无法缴费"
                code = "policy_not_payable"
            raise Conflict(message, code=code, errors=[FieldError("instalment", code, message)])
        schedule = schedule_of(locked)
        if schedule is None:
            raise NotFound(
                "该保单没有分期缴费计划",
                code="no_schedule",
                errors=[FieldError("instalment", "no_schedule", "该保单没有分期缴费计划")],
            )
        name, id_number = _payer(locked)
        payment = billing.pay_instalment_now(
            schedule,
            number,
            payer_name=name,
            payer_id_number=id_number,
            return_url=reverse("policy:premiums", args=[locked.public_id]),
        )
        audit.record(
            "policy.instalment_checkout",
            OBJ_TYPE,
            locked.number,
            actor=user,
            request=request,
            after={"instalment": number, "amount": payment.amount, "payment": str(payment.public_id)},
        )
    return payment


def _check_answers(
    questions: tuple[HealthQuestion, ...], answers: Mapping[str, Any], policy: Policy
) -> list[str]:
    """Every question answered yes or no (ValidationFailed naming `health_answers.<code>`);
    returns the codes whose answer needs underwriting."""
    missing = [
        FieldError(f"health_answers.{q.code}", "required", f"请回答健康告知：{q.text}")
        for q in questions
        if not isinstance(answers.get(q.code), bool)
    ]
    if missing:
        raise ValidationFailed("health questions not answered", errors=missing)
    knock_out = {
        str(q.get("code")): bool(q.get("knock_out_answer", True))
        for q in (policy.product_version.eligibility or {}).get("health_questions") or []
        if isinstance(q, Mapping)
    }
    return [q.code for q in questions if answers[q.code] is knock_out.get(q.code, True)]


def request_reinstatement(
    policy: Policy,
    answers: Mapping[str, Any],
    *,
    user: Any,
    request: HttpRequest | None = None,
    today: datetime.date | None = None,
) -> tuple[ReinstatementOffer, Payment]:
    """Opens the hosted checkout for the premiums owed to reinstate the lapsed policy, after its
    health questions (when the product asks them again and no underwriter has accepted them).
    Raises Conflict (not lapsed, past the reinstatement period, an answer that needs
    underwriting, a referral waiting or declined) or ValidationFailed (an unanswered question);
    nothing changes then — but an answer that needs underwriting becomes a referral to staff
    (`reinstatement.refer`: the servicing queue's work item)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = _fresh(policy)
        offer = reinstatement_offer(locked, today=today)
        if not offer.available:
            code = "not_lapsed" if locked.status != PolicyStatus.LAPSED else "not_reinstatable"
            code = _REFERRAL_REFUSALS.get(offer.referral_status, code)
            raise Conflict(offer.refusal, code=code, errors=[FieldError("policy", code, offer.refusal)])
        flagged = _check_answers(offer.health_questions, answers, locked)
    if flagged:
        message = "根据您的健康告知，复效需要人工核保。我们已为您提交核保申请，结果将通过站内信通知您。"
        assert offer.lapsed_on is not None  # an available offer is of a lapse
        reinstatement.refer(
            locked,
            {q.code: answers[q.code] for q in offer.health_questions},
            flagged=len(flagged),
            lapsed_on=offer.lapsed_on,
            amount=offer.total,
            user=user,
            request=request,
        )
        raise Conflict(
            message,
            code="needs_underwriting",
            errors=[FieldError(f"health_answers.{code}", "needs_underwriting", message) for code in flagged],
        )
    with transaction.atomic():
        locked = _fresh(policy)
        schedule = schedule_of(locked)
        if schedule is None or locked.status != PolicyStatus.LAPSED:
            raise Conflict("保单状态已变化，请刷新后重试", code="not_lapsed")
        name, id_number = _payer(locked)
        quote, payment = billing.reinstate_by_checkout(
            schedule,
            today,
            payer_name=name,
            payer_id_number=id_number,
            years=_reinstatement_years(locked),
            return_url=reverse("policy:premiums", args=[locked.public_id]),
        )
        audit.record(
            "policy.reinstatement_checkout",
            OBJ_TYPE,
            locked.number,
            actor=user,
            request=request,
            after={
                "instalments": list(quote.numbers),
                "amount": quote.amount,
                "payment": str(payment.public_id),
                "health_questions": len(offer.health_questions),
            },
        )
    return offer, payment


_REFERRAL_REFUSALS: dict[str, str] = {
    ReferralStatus.REFERRED: "referral_pending",
    ReferralStatus.DECLINED: "reinstatement_declined",
}


def _lapsed_with_schedule(policy: Policy, user: Any) -> bool:
    return policy.status == PolicyStatus.LAPSED and schedule_of(policy) is not None


def register_actions() -> None:
    """The hub's "申请复效" for a lapsed policy paid in instalments (urgent: order below 100);
    paying now and the premiums page are the hub's own `pay_now` and `premiums`."""
    from django.utils.translation import gettext_lazy as _

    from huibao.policy.actions import register_action

    register_action(
        "reinstate",
        label=_("申请复效"),
        url_name="policy:reinstate",
        order=15,
        available=_lapsed_with_schedule,
        icon="pay",
        group="payment",
        api_url_name="api:policy_reinstatement",
    )
