"""Endorsement use-cases (批改/保全): request, confirm, approve or reject, pay or refund, apply.

Every use-case owns its transaction and holds the policy's row lock while it reads and changes
the policy's endorsements, so two changes of one policy never overlap: a second request while
one is open is refused (and the partial unique constraint `endorsement_one_open_per_policy` is
the last guard), and a retried call finds the endorsement already moved and changes nothing.

    request_endorsement ──▶ requested ──send_confirmation_code──▶ awaiting_confirmation
        ──confirm_endorsement (SMS code to the holder's number on the policy)──▶
        [pending_approval ──approve / reject (staff, not the requester)──▶] approved
        ──premium to pay: a payment (paid hook) / to refund: payment.refund──▶ applied

Applying writes a new `PolicyVersion` (version 1, as issued, is written when first needed),
updates the policy's own rows (parties, beneficiaries, plan, sum insured, premium), records the
audit entry, tells the customer, and after commit renders the signed endorsement PDF (批单).
Re-rated changes are priced by `rating.services.reprice` on the policy's own quote and product
version; the delta is `endorsement_rules.premium_delta`.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils import timezone

from huibao.account import services as account_services
from huibao.billing import rules as billing_rules
from huibao.billing import selectors as billing_selectors
from huibao.billing import services as billing
from huibao.catalog.documents import coverages_of_plans, is_frozen
from huibao.catalog.models import Plan
from huibao.catalog.servicing import Confirmation, EndorsementKind, ServicingRules, servicing_rules
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.hooks import Hook
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone
from huibao.core.states import check_transition
from huibao.esign import handwriting
from huibao.jobs.dates import cutoff
from huibao.notification.services import notify
from huibao.payment import services as payments
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus, RefundStatus
from huibao.policy import delivery, lifecycle
from huibao.policy import endorsement_rules as er
from huibao.policy import rules as policy_rules
from huibao.policy.documents import public_base_url
from huibao.policy.models import Endorsement, Policy, PolicyBeneficiary, PolicyParty, PolicyVersion
from huibao.policy.states import (
    COVERED_STATUSES,
    ENDORSEMENT_TRANSITIONS,
    OPEN_ENDORSEMENT_STATUSES,
    WITHDRAWABLE_STATUSES,
    EndorsementStatus,
    PartyRole,
    PolicyStatus,
    Relation,
)
from huibao.rating import services as rating
from huibao.rating.models import Quote

OBJ_TYPE = "endorsement"
REFERENCE_KIND = "endorsement"  # payments of a premium delta
APPLICATION_REFERENCE_KIND = "application"  # the checkout payment a policy was issued from
# The keyed hash of a person's ID number, as the seller computed it at issuance (look-ups of one
# insured person across policies use it).
PERSON_ID_HASH_CONTEXT = "person.id_number"
APPROVE_PERMISSION = "policy.approve_endorsement"
CONFIRM_DAYS = 7  # unconfirmed (or unpaid) after this: expired by the daily sweep
PAYMENT_TTL = datetime.timedelta(days=2)
E = EndorsementStatus


@dataclass(frozen=True, slots=True)
class EndorsementApplied:
    """An endorsement applied to its policy (inside the applying transaction): its premium delta
    (what was charged, or refunded when negative) and the local date it took effect on."""

    policy: Policy
    endorsement: Endorsement
    premium_delta: Decimal
    on: datetime.date


# Announced once per applied endorsement, in its transaction (finance books the commission on
# the delta: finance/commissions.py).
endorsement_applied: Hook[EndorsementApplied, None] = Hook("policy.endorsement_applied")


# --- reading the policy as it stands ------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def changes_of(endorsement: Endorsement) -> dict[str, Any]:
    return dict(json.loads(endorsement.changes or "{}"))


def previous_of(endorsement: Endorsement) -> dict[str, Any]:
    return dict(json.loads(endorsement.previous or "{}"))


def _party(policy: Policy, role: str) -> PolicyParty | None:
    return next((p for p in policy.parties.all() if p.role == role), None)


def _loading(policy: Policy) -> Decimal:
    try:
        schedule = json.loads(policy.schedule or "{}")
        return Decimal(str((schedule.get("premium") or {}).get("loading_percent") or 0))
    except (ValueError, ArithmeticError):
        return Decimal(0)


def snapshot(policy: Policy) -> dict[str, Any]:
    """The policy's current data: what a `PolicyVersion` keeps."""
    parties = {
        p.role: {
            "name": p.name,
            "id_number": p.id_number,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            "sex": p.sex,
            "relation": p.relation,
            "phone": p.phone,
            "email": p.email,
            "address": p.address,
        }
        for p in policy.parties.all()
    }
    return {
        "holder": parties.get(PartyRole.HOLDER, {}),
        "insured": parties.get(PartyRole.INSURED, {}),
        "beneficiary_mode": policy.beneficiary_mode,
        "beneficiaries": [
            {
                "name": b.name,
                "id_number": b.id_number,
                "relation": b.relation,
                "order": b.order,
                "share_percent": str(b.share_percent),
            }
            for b in policy.beneficiaries.all()
        ],
        "plan_code": policy.plan.code,
        "plan_name": policy.plan.name,
        "sum_insured": None if policy.sum_insured is None else str(policy.sum_insured),
        "premium": str(policy.premium),
        "death_benefit": str(policy.death_benefit),
        "quote_id": str(policy.quote_id) if policy.quote_id else None,
    }


def current_version(policy: Policy) -> PolicyVersion:
    """The policy's latest data version; version 1 (as issued) is written the first time."""
    latest = PolicyVersion.objects.filter(policy=policy).order_by("-number").first()
    if latest is not None:
        return latest
    first, _ = PolicyVersion.objects.get_or_create(
        policy=policy,
        number=1,
        defaults={"valid_from": policy.issued_at, "snapshot": _dumps(snapshot(policy))},
    )
    return first


def policy_data_at(policy: Policy, when: datetime.datetime) -> dict[str, Any] | None:
    """The policy's data as it stood at `when` (None before it was issued)."""
    current_version(policy)
    version = (
        PolicyVersion.objects.filter(policy=policy, valid_from__lte=when)
        .order_by("-valid_from", "-number")
        .first()
    )
    if version is None:
        return None
    return {"version": version.number, "valid_from": version.valid_from, **json.loads(version.snapshot)}


def rules_of(policy: Policy) -> ServicingRules:
    return servicing_rules(policy.product_version.servicing)


def facts_of(policy: Policy, rules: ServicingRules | None = None) -> er.PolicyFacts:
    holder = _party(policy, PartyRole.HOLDER)
    insured = _party(policy, PartyRole.INSURED)
    plans = Plan.objects.filter(version_id=policy.product_version_id).order_by("sort_order", "code")
    return er.PolicyFacts(
        rules=(rules or rules_of(policy)).endorsements,
        holder_phone=holder.phone if holder else "",
        holder_email=holder.email if holder else "",
        holder_address=holder.address if holder else "",
        insured_name=insured.name if insured else policy.insured_name,
        insured_id_number=insured.id_number if insured else "",
        insured_birth_date=insured.birth_date if insured else None,
        insured_sex=insured.sex if insured else "",
        plan_code=policy.plan.code,
        sum_insured=policy.sum_insured,
        plans=tuple(
            er.PlanOption(
                p.code, p.name, p.min_sum_insured, p.max_sum_insured, p.sum_insured_step or Decimal(0)
            )
            for p in plans
        ),
        beneficiary_mode=policy.beneficiary_mode,
        beneficiaries=tuple(
            {
                "name": b.name,
                "id_number": b.id_number,
                "relation": b.relation,
                "order": b.order,
                "share_percent": str(b.share_percent),
            }
            for b in policy.beneficiaries.all()
        ),
    )


def allowed_kinds(policy: Policy) -> list[EndorsementKind]:
    allowed = rules_of(policy).endorsements.allowed
    return [k for k in EndorsementKind if k in allowed]


def _lock(policy: Policy | int) -> Policy:
    """The policy, locked (the lifecycle's one lock) until the end of the caller's transaction."""
    return lifecycle.lock_policy(policy.pk if isinstance(policy, Policy) else policy)


def _require_covered(policy: Policy) -> None:
    if policy.status not in COVERED_STATUSES:
        label = PolicyStatus(policy.status).label if policy.status in PolicyStatus.values else policy.status
        raise Conflict(
            f"保单当前状态为“{label}”，不能办理批改",
            code="policy_not_covered",
            errors=[
                FieldError("policy", "not_covered", f"保单当前状态为“{label}”，仅保障中的保单可以办理批改")
            ],
        )


def _move(endorsement: Endorsement, target: str) -> None:
    check_transition(
        ENDORSEMENT_TRANSITIONS, endorsement.status, target, what=f"endorsement {endorsement.number}"
    )
    endorsement.status = target


def _notify(policy: Policy, endorsement: Endorsement, template: str, step: str, **extra: Any) -> None:
    if policy.customer is None:
        return
    notify(
        user=policy.customer,
        template=template,
        context={
            "policy_number": policy.number,
            "endorsement_number": endorsement.number,
            "kind_label": er.KIND_LABELS[endorsement.kind],
            **extra,
        },
        dedup_key=f"endorsement:{endorsement.number}:{step}",
        reference=endorsement.number,
    )


def _masked_change(kind: str, change: dict[str, Any]) -> dict[str, Any]:
    """What the audit chain and the pages keep of a change: no personal datum in clear."""
    out: dict[str, Any] = {}
    for key, value in change.items():
        if key == "phone":
            out[key] = mask_phone(value)
        elif key == "email":
            out[key] = mask_email(value)
        elif key == "address":
            out[key] = (value[:6] + "…") if value else ""
        elif key == "id_number":
            out[key] = mask_id_number(value)
        elif key == "name":
            out[key] = mask_name(value)
        elif key == "birth_date":
            out[key] = "****-**-**" if value else None
        elif key == "beneficiaries":
            out[key] = [_masked_change(kind, dict(b)) for b in value]
        else:
            out[key] = value
    return out


# --- request ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pricing:
    old_premium: Decimal
    new_premium: Decimal
    delta: Decimal
    quote: Quote | None
    period_start: datetime.date
    period_end: datetime.date
    on: datetime.date


def _price(
    policy: Policy,
    kind: EndorsementKind,
    change: dict[str, Any],
    facts: er.PolicyFacts,
    now: datetime.datetime,
) -> Pricing:
    start = timezone.localtime(policy.effective_at).date()
    end = timezone.localtime(policy.expires_at).date() if policy.expires_at else None
    on = max(timezone.localtime(now).date(), start)
    period_start, period_end = er.premium_period(start, end, on)
    old = policy.premium
    if not er.needs_rerating(kind, change, facts):
        return Pricing(old, old, Decimal("0.00"), None, period_start, period_end, on)
    origin = Quote.objects.filter(pk=policy.quote_id).first() if policy.quote_id else None
    if origin is None:
        raise Conflict(
            "本保单缺少定价记录，无法在线重新计算保费，请联系客服办理",
            code="no_rating_quote",
            errors=[FieldError("kind", "not_rerateable", "本保单缺少定价记录，无法在线重新计算保费")],
        )
    inputs: dict[str, object] = {}
    drop: tuple[str, ...] = ()
    plan_code: str | None = None
    if kind == EndorsementKind.INSURED_CORRECTION:
        inputs = {"birth_date": change["birth_date"], "sex": change["sex"], "start_date": start.isoformat()}
        drop = ("age",)
    if kind in (EndorsementKind.PLAN, EndorsementKind.SUM_INSURED) and change.get("sum_insured") is not None:
        inputs["sum_insured"] = change["sum_insured"]
    if kind == EndorsementKind.PLAN:
        plan_code = change["plan_code"]
    try:
        quote = rating.reprice(origin, changes=inputs, drop=drop, plan_code=plan_code, channel="endorsement")
    except ValidationFailed as exc:
        raise ValidationFailed(
            "按变更后的资料无法承保或计算保费：" + (exc.errors[0].message if exc.errors else exc.message),
            code="not_rateable",
            errors=[FieldError(_field_for(kind), e.code, e.message) for e in exc.errors] or exc.errors,
        ) from exc
    # the recorded quote may be the policy's own (the same price): the loading is applied anew
    new = old if quote.pk == origin.pk else er.loaded_premium(quote.premium, _loading(policy))
    if new != old:
        replan = _replan_preview(policy, kind, old=old, new=new, on=on, quote=quote)
        if replan is not None:
            # paid in instalments: the current instalment's days left and the instalments settled
            # already are what is charged or refunded now; the unpaid ones take the new amounts
            return Pricing(old, new, replan.adjustment, quote, period_start, period_end, on)
    delta = er.premium_delta(old, new, period_start=period_start, period_end=period_end, on=on)
    return Pricing(old, new, delta, quote, period_start, period_end, on)


SCHEDULE_KIND = "policy"  # the billing reference kind of a policy's premium schedule


def _year_pricing(
    policy: Policy, quote: Quote | None, *, old: Decimal, new: Decimal, on: datetime.date
) -> tuple[Decimal, Decimal, tuple[Decimal, ...]]:
    """The old and new annual premium of the policy year `on` falls in, and the new premium of
    every policy year when the premium steps up by year (the schedule's `year_premiums`; each
    year re-rated by the product version at the insured's age in it, the loading kept) — for a
    level premium the policy's own, and no years."""
    view = billing_selectors.schedule_for(SCHEDULE_KIND, policy.number)
    if view is None or not view.year_premiums or quote is None:
        return old, new, ()
    start = timezone.localtime(policy.effective_at).date()
    rated = rating.year_premiums(quote, years=len(view.year_premiums), start=start)
    loading = _loading(policy)
    years = (new, *(er.loaded_premium(p, loading) for p in rated[1:]))
    year = min(billing_rules.policy_year_of(start, on), len(years))
    return view.year_premiums[year - 1], years[year - 1], years


def _replan_preview(
    policy: Policy,
    kind: EndorsementKind,
    *,
    old: Decimal,
    new: Decimal,
    on: datetime.date,
    quote: Quote | None = None,
) -> billing_rules.Replan | None:
    """The policy's premium schedule re-planned for the new premium from `on` (nothing written),
    None for a policy paid whole. Refused when it cannot be: past the premium term, the
    schedule closed, or an instalment that would not stay positive."""
    try:
        year_old, year_new, years = _year_pricing(policy, quote, old=old, new=new, on=on)
        return billing_selectors.replan_preview(
            SCHEDULE_KIND,
            policy.number,
            old_annual=year_old,
            new_annual=year_new,
            effective_on=on,
            later_annual=dict(enumerate(years, start=1)),
        )
    except billing_rules.ScheduleError as exc:
        if "positive" in str(exc) or "cannot be split" in str(exc):
            message = "变更后的每期保费须大于零，本项变更无法按分期缴费办理"
            raise ValidationFailed(
                message,
                code="instalment_not_positive",
                errors=[FieldError(_field_for(kind), "instalment_not_positive", message)],
            ) from exc
        raise Conflict(
            "本保单的缴费计划当前无法调整（已终止或已过缴费期间），请联系客服办理",
            code="instalments_not_rerateable",
            errors=[FieldError("kind", "instalments", "缴费计划当前无法调整")],
        ) from exc


def replan_of(endorsement: Endorsement) -> billing_rules.Replan | None:
    """The new premium schedule a premium change of a policy paid in instalments gives, as the
    customer sees it before confirming (None: no schedule, or no premium change). Computed from
    the instalments as they stand now, for the date the change was priced on."""
    if endorsement.new_premium == endorsement.old_premium or endorsement.quote_id is None:
        return None
    try:
        on = _priced_on(endorsement)
        year_old, year_new, years = _year_pricing(
            endorsement.policy,
            endorsement.quote,
            old=endorsement.old_premium,
            new=endorsement.new_premium,
            on=on,
        )
        plan_ = billing_selectors.replan_preview(
            SCHEDULE_KIND,
            endorsement.policy.number,
            old_annual=year_old,
            new_annual=year_new,
            effective_on=on,
            later_annual=dict(enumerate(years, start=1)),
        )
        # as it will be applied: what an instalment settled since pricing cannot take, carried
        return None if plan_ is None else billing_rules.carry(plan_, endorsement.premium_delta)
    except (billing_rules.ScheduleError, ValidationFailed):
        return None


def instalment_changes_of(endorsement: Endorsement) -> list[billing_selectors.ChangeLine]:
    """What an applied change did to the policy's instalments (its history)."""
    return billing_selectors.changes_by(REFERENCE_KIND, endorsement.number)


@dataclass(frozen=True, slots=True)
class InstalmentLine:
    """One instalment as a premium change of a policy paid in instalments moves it: before the
    customer confirms, the plan; once applied, the schedule's history."""

    number: int
    due_on: datetime.date
    old_amount: Decimal
    new_amount: Decimal
    adjustment: Decimal  # charged (+) or refunded (−) now: the instalment was paid already
    settled: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "due_on": self.due_on,
            "old_amount": str(self.old_amount),
            "new_amount": str(self.new_amount),
            "adjustment": str(self.adjustment),
            "paid": self.settled,
        }


def instalment_lines(endorsement: Endorsement) -> list[InstalmentLine]:
    """The instalments the change moves ([] for a policy paid whole or a change of no premium)."""
    if endorsement.status == E.APPLIED:
        return [
            InstalmentLine(c.number, c.due_on, c.old_amount, c.new_amount, c.adjustment, c.adjustment != 0)
            for c in instalment_changes_of(endorsement)
        ]
    if endorsement.status not in OPEN_ENDORSEMENT_STATUSES:
        return []
    plan_ = replan_of(endorsement)
    if plan_ is None:
        return []
    return [
        InstalmentLine(x.number, x.due_on, x.old_amount, x.new_amount, x.adjustment, x.settled)
        for x in plan_.changed
    ]


def _priced_on(endorsement: Endorsement) -> datetime.date:
    """The day the change takes effect, as `_price` took it: the request's day, not before the
    policy's start."""
    start = timezone.localtime(endorsement.policy.effective_at).date()
    return max(timezone.localtime(endorsement.requested_at).date(), start)


def _field_for(kind: EndorsementKind) -> str:
    return {
        EndorsementKind.INSURED_CORRECTION: "id_number",
        EndorsementKind.PLAN: "plan_code",
        EndorsementKind.SUM_INSURED: "sum_insured",
    }.get(kind, "kind")


def open_endorsement(policy: Policy) -> Endorsement | None:
    return Endorsement.objects.filter(policy=policy, status__in=OPEN_ENDORSEMENT_STATUSES).first()


def request_endorsement(
    policy: Policy, kind: Any, changes: dict[str, Any], *, actor: Any, now: datetime.datetime | None = None
) -> Endorsement:
    """Checks and prices a change and records it (status requested). Refused, with nothing
    written: a policy not in cover, a kind the product does not allow, bad input (every field
    named), or another change of the policy still open."""
    now = now or timezone.now()
    parsed = er.parse_kind(kind)
    with transaction.atomic():
        locked = _lock(policy)
        _require_covered(locked)
        rules = rules_of(locked)
        facts = facts_of(locked, rules)
        change = er.check_change(parsed, changes, facts)
        pending = open_endorsement(locked)
        if pending is not None:
            raise Conflict(
                f"本保单有一项批改（{pending.number}）尚未办结，请办结或撤销后再申请",
                code="endorsement_open",
                errors=[FieldError("kind", "endorsement_open", f"批改{pending.number}尚未办结")],
            )
        pricing = _price(locked, parsed, change, facts, now)
        current_version(locked)
        sequence = (Endorsement.objects.filter(policy=locked).aggregate(m=Max("sequence"))["m"] or 0) + 1
        endorsement = Endorsement.objects.create(
            number=f"{locked.number}-E{sequence:02d}",
            policy=locked,
            sequence=sequence,
            kind=parsed.value,
            status=E.REQUESTED,
            changes=_dumps(change),
            previous=_dumps(er.previous_values(parsed, facts)),
            needs_approval=rules.needs_approval(parsed),
            old_premium=pricing.old_premium,
            new_premium=pricing.new_premium,
            premium_delta=pricing.delta,
            quote=pricing.quote,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            requested_at=now,
            confirm_by=now + datetime.timedelta(days=CONFIRM_DAYS),
        )
        audit.record(
            "policy.endorsement_requested",
            OBJ_TYPE,
            endorsement.number,
            actor=actor,
            after={
                "policy": locked.number,
                "kind": parsed.value,
                "changes": _masked_change(parsed, change),
                "old_premium": pricing.old_premium,
                "new_premium": pricing.new_premium,
                "premium_delta": pricing.delta,
                "needs_approval": endorsement.needs_approval,
            },
        )
        _notify(locked, endorsement, "policy.endorsement_requested", "requested")
    return endorsement


# --- confirmation -------------------------------------------------------------------------------


def _holder_phone(policy: Policy) -> str:
    holder = _party(policy, PartyRole.HOLDER)
    phone = holder.phone if holder else ""
    if not phone:
        raise Conflict(
            "保单未登记投保人手机号，无法短信确认，请联系客服办理",
            code="no_holder_phone",
            errors=[FieldError("code", "no_phone", "保单未登记投保人手机号")],
        )
    return phone


def confirmation_method(policy: Policy) -> Confirmation:
    return rules_of(policy).endorsements.confirmation


def signature_required(policy: Policy) -> bool:
    """A handwritten signature besides the SMS code: the product confirms changes as it signs
    applications (`same_as_application`) and its applications are signed by hand."""
    if confirmation_method(policy) != Confirmation.SAME_AS_APPLICATION:
        return False
    rules = policy.product_version.application_rules or {}
    return str(rules.get("signature", "handwritten")) == "handwritten"


def holder_name(policy: Policy) -> str:
    holder = _party(policy, PartyRole.HOLDER)
    return holder.name if holder else policy.holder_name


def _checked_signature(policy: Policy, ink: object) -> str:
    """The holder's handwritten signature checked against their name (as the application checks
    it), as a base64 PNG; `ValidationFailed` on the field `signature` otherwise."""
    if ink is None or ink == "":
        raise ValidationFailed(
            "请投保人在签名框内手写签名",
            errors=[FieldError("signature", "required", "请投保人在签名框内手写签名")],
        )
    parsed = handwriting.parse_strokes(ink if isinstance(ink, str) else dict(ink))  # type: ignore[call-overload]
    refusals = handwriting.check_handwritten_signature(parsed, holder_name(policy))
    if refusals:
        raise ValidationFailed(refusals[0].message, errors=refusals)
    return base64.b64encode(handwriting.render_signature_png(parsed)).decode()


def _get_locked(endorsement: Endorsement | str) -> tuple[Endorsement, Policy]:
    number = endorsement.number if isinstance(endorsement, Endorsement) else endorsement
    row = Endorsement.objects.filter(number=number).values_list("policy_id", flat=True).first()
    if row is None:
        raise NotFound("批改不存在", code="endorsement_not_found")
    policy = _lock(row)
    locked = Endorsement.objects.select_for_update().get(number=number)
    return locked, policy


def send_confirmation_code(
    endorsement: Endorsement, *, actor: Any, client_address: str | None = None
) -> account_services.CodeSent:
    """Sends the SMS code to the holder's number on the policy (not a number the change brings)."""
    with transaction.atomic():
        locked, policy = _get_locked(endorsement)
        if locked.status not in (E.REQUESTED, E.AWAITING_CONFIRMATION):
            raise Conflict(f"批改{locked.number}当前无需短信确认", code="not_awaiting_confirmation")
        _require_covered(policy)
        phone = _holder_phone(policy)
        if locked.status == E.REQUESTED:
            _move(locked, E.AWAITING_CONFIRMATION)
            locked.save(update_fields=["status", "updated_at"])
            audit.record(
                "policy.endorsement_code_sent",
                OBJ_TYPE,
                locked.number,
                actor=actor,
                after={"to": mask_phone(phone)},
            )
    return account_services.send_servicing_code(
        phone, operation=er.KIND_LABELS[locked.kind], client_address=client_address
    )


def confirm_endorsement(
    endorsement: Endorsement,
    code: str,
    *,
    actor: Any,
    signature: object = None,
    now: datetime.datetime | None = None,
) -> Endorsement:
    """The customer's confirmation with the SMS code (and the holder's handwritten signature
    where `signature_required`). A retry after success changes nothing; a wrong code or a
    refused signature changes nothing (a wrong code is counted)."""
    now = now or timezone.now()
    current = Endorsement.objects.select_related("policy").get(pk=endorsement.pk)
    if current.confirmed_at is not None:
        return current
    if current.status != E.AWAITING_CONFIRMATION:
        raise Conflict(
            f"批改{current.number}当前状态为“{E(current.status).label}”，不能确认",
            code="not_awaiting_confirmation",
        )
    signature_png = (
        _checked_signature(current.policy, signature) if signature_required(current.policy) else ""
    )
    # checked (and its try counted) in its own transaction, before anything is changed
    account_services.require_code(_holder_phone(current.policy), "servicing", code)
    with transaction.atomic():
        locked, policy = _get_locked(current)
        if locked.confirmed_at is not None:
            return locked
        if locked.status != E.AWAITING_CONFIRMATION:
            raise Conflict(f"批改{locked.number}当前不能确认", code="not_awaiting_confirmation")
        _require_covered(policy)
        locked.confirmed_at = now
        locked.signature_png = signature_png
        by = "sms+handwritten" if signature_png else "sms"
        audit.record("policy.endorsement_confirmed", OBJ_TYPE, locked.number, actor=actor, after={"by": by})
        if locked.needs_approval:
            _move(locked, E.PENDING_APPROVAL)
            locked.save(update_fields=["status", "confirmed_at", "signature_png", "updated_at"])
        else:
            _proceed(locked, policy, actor=actor, now=now)
    return locked


# --- staff decision -----------------------------------------------------------------------------


def _check_approver(endorsement: Endorsement, actor: Any) -> None:
    if not (getattr(actor, "is_authenticated", False) and actor.has_perm(APPROVE_PERMISSION)):
        raise PermissionDenied("无批改审核权限", code="not_allowed")
    if endorsement.requested_by_id is not None and endorsement.requested_by_id == actor.pk:
        raise PermissionDenied("不能审核本人提交的批改（双人复核）", code="four_eyes")


def approve_endorsement(
    endorsement: Endorsement, *, actor: Any, reason: str = "", now: datetime.datetime | None = None
) -> Endorsement:
    now = now or timezone.now()
    with transaction.atomic():
        locked, policy = _get_locked(endorsement)
        _check_approver(locked, actor)
        if locked.status != E.PENDING_APPROVAL:
            raise Conflict(f"批改{locked.number}不在待审核状态", code="not_pending_approval")
        _require_covered(policy)
        locked.decided_by = actor
        locked.decided_at = now
        locked.decision_reason = reason.strip()[:200]
        audit.record(
            "policy.endorsement_approved",
            OBJ_TYPE,
            locked.number,
            actor=actor,
            after={"reason": locked.decision_reason},
        )
        _notify(policy, locked, "policy.endorsement_approved", "approved")
        _proceed(locked, policy, actor=actor, now=now)
    return locked


def reject_endorsement(
    endorsement: Endorsement, *, actor: Any, reason: str, now: datetime.datetime | None = None
) -> Endorsement:
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "请填写不通过的原因", errors=[FieldError("reason", "required", "请填写不通过的原因")]
        )
    with transaction.atomic():
        locked, policy = _get_locked(endorsement)
        _check_approver(locked, actor)
        if locked.status != E.PENDING_APPROVAL:
            raise Conflict(f"批改{locked.number}不在待审核状态", code="not_pending_approval")
        _move(locked, E.REJECTED)
        locked.decided_by = actor
        locked.decided_at = now
        locked.decision_reason = reason[:200]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
        audit.record(
            "policy.endorsement_rejected", OBJ_TYPE, locked.number, actor=actor, after={"reason": reason}
        )
        _notify(policy, locked, "policy.endorsement_rejected", "rejected", reason=reason[:200])
    return locked


def withdraw_endorsement(endorsement: Endorsement, *, actor: Any) -> Endorsement:
    with transaction.atomic():
        locked, _policy = _get_locked(endorsement)
        if locked.status == E.WITHDRAWN:
            return locked
        if locked.status not in WITHDRAWABLE_STATUSES:
            raise Conflict(f"批改{locked.number}当前不能撤销", code="not_withdrawable")
        _move(locked, E.WITHDRAWN)
        locked.save(update_fields=["status", "updated_at"])
        audit.record("policy.endorsement_withdrawn", OBJ_TYPE, locked.number, actor=actor)
    return locked


# --- payment, refund and applying ---------------------------------------------------------------


def _proceed(endorsement: Endorsement, policy: Policy, *, actor: Any, now: datetime.datetime) -> None:
    """Confirmed (and approved where needed): the premium to pay first, else applied now."""
    _move(endorsement, E.APPROVED)
    if endorsement.premium_delta > 0:
        holder = _party(policy, PartyRole.HOLDER)
        payment = payments.create_payment(
            amount=endorsement.premium_delta,
            payer_name=holder.name if holder else policy.holder_name,
            payer_id_number=holder.id_number if holder else "",
            reference_kind=REFERENCE_KIND,
            reference_id=endorsement.number,
            expires_in=PAYMENT_TTL,
            # back from the cashier to the change's own page
            return_url=reverse("policy:endorsement", args=[policy.public_id, endorsement.number]),
        )
        _move(endorsement, E.AWAITING_PAYMENT)
        endorsement.payment_ref = str(payment.public_id)
        endorsement.save()
        return
    _apply(endorsement, policy, actor=actor, now=now)


def payment_of(endorsement: Endorsement) -> Payment | None:
    if not endorsement.payment_ref:
        return None
    return Payment.objects.filter(public_id=endorsement.payment_ref).first()


def paid_for_policy(policy: Policy) -> Decimal:
    """What the customer has paid for this policy: its premium as issued (for a policy in
    instalments, what its premium schedule has collected), plus premium deltas paid, less what
    its endorsements refunded."""
    collected = billing_selectors.paid_instalments(SCHEDULE_KIND, policy.number)
    if collected or billing_selectors.schedule_for(SCHEDULE_KIND, policy.number) is not None:
        # every instalment collected, over all the policy years (not only the year shown)
        first = sum((i.amount for i in collected), Decimal("0.00"))
    else:
        issued = PolicyVersion.objects.filter(policy=policy, number=1).first()
        first = Decimal(json.loads(issued.snapshot)["premium"]) if issued is not None else policy.premium
    rows = Endorsement.objects.filter(policy=policy, status=E.APPLIED)
    paid = rows.filter(premium_delta__gt=0).aggregate(s=Sum("premium_delta"))["s"] or Decimal(0)
    refunded = rows.filter(premium_delta__lt=0).exclude(refund_ref="").aggregate(s=Sum("premium_delta"))["s"]
    return first + paid + (refunded or Decimal(0))


def _refund(endorsement: Endorsement, policy: Policy, amount: Decimal) -> None:
    """Refunds `amount` through the payments made for the policy (checkout first, then its
    premium deltas, then its collected instalments), never more than the customer paid for it in total."""
    cap = paid_for_policy(policy)
    if amount > cap:
        raise Conflict(
            f"应退保费{amount}元超过本保单已缴保费{cap}元，请联系客服办理",
            code="refund_above_paid",
            errors=[FieldError("premium_delta", "refund_above_paid", f"退费不能超过已缴保费{cap}元")],
        )
    sources = list(
        Payment.objects.filter(
            reference_kind=APPLICATION_REFERENCE_KIND,
            reference_id=str(policy.application_public_id),
            status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED),
        ).order_by("id")
    ) + list(
        Payment.objects.filter(
            reference_kind=REFERENCE_KIND,
            reference_id__startswith=f"{policy.number}-E",
            status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED),
        ).order_by("id")
    )
    # then the instalments its premium schedule collected, the latest first (a change in a later
    # policy year refunds what that year's instalments paid)
    seen = {s.pk for s in sources}
    instalment_refs = [
        i.payment_reference for i in billing_selectors.paid_instalments(SCHEDULE_KIND, policy.number)
    ]
    sources += [
        p
        for p in Payment.objects.filter(
            merchant_ref__in=instalment_refs,
            status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED),
        ).order_by("-id")
        if p.pk not in seen
    ]
    left = amount
    refs: list[str] = []
    for source in sources:
        available = source.amount - source.refunded_amount
        part = min(available, left)
        if part <= 0:
            continue
        row = payments.refund(source, part, f"批改{endorsement.number}退还保费", policy_id=policy.pk)
        if row.status != RefundStatus.SUCCEEDED:
            raise Conflict("退款未成功，请稍后再试", code="refund_failed")
        refs.append(str(row.public_id))
        left -= part
        if left <= 0:
            break
    if left > 0:
        raise Conflict(
            f"可原路退回的金额不足（尚差{left}元），请联系客服办理",
            code="refund_above_paid",
            errors=[FieldError("premium_delta", "refund_above_paid", "可原路退回的金额不足")],
        )
    endorsement.refund_ref = ",".join(refs)[:64]


def _apply_change(endorsement: Endorsement, policy: Policy) -> list[str]:
    """Writes the change onto the policy's own rows; returns the policy fields changed."""
    kind = EndorsementKind(endorsement.kind)
    change = changes_of(endorsement)
    fields: list[str] = []
    if kind == EndorsementKind.CONTACT:
        holder = PolicyParty.objects.get(policy=policy, role=PartyRole.HOLDER)
        holder.phone, holder.email, holder.address = change["phone"], change["email"], change["address"]
        holder.save(update_fields=["phone", "email", "address"])
    elif kind == EndorsementKind.BENEFICIARIES:
        PolicyBeneficiary.objects.filter(policy=policy).delete()
        PolicyBeneficiary.objects.bulk_create(
            PolicyBeneficiary(
                policy=policy,
                name=b["name"],
                id_number=b["id_number"],
                id_hash=lookup_hash(b["id_number"], context=PERSON_ID_HASH_CONTEXT),
                relation=b["relation"],
                order=b["order"],
                share_percent=Decimal(b["share_percent"]),
            )
            for b in change["beneficiaries"]
        )
        policy.beneficiary_mode = change["mode"]
        fields.append("beneficiary_mode")
    elif kind == EndorsementKind.INSURED_CORRECTION:
        id_hash = lookup_hash(change["id_number"], context=PERSON_ID_HASH_CONTEXT)
        insured = PolicyParty.objects.get(policy=policy, role=PartyRole.INSURED)
        roles = [PartyRole.INSURED]
        if insured.relation == Relation.SELF:
            roles.append(PartyRole.HOLDER)  # one person: the holder's record is corrected too
            policy.holder_name, policy.holder_id_hash = change["name"], id_hash
            fields += ["holder_name", "holder_id_hash"]
        for party in PolicyParty.objects.filter(policy=policy, role__in=roles):
            party.name = change["name"]
            party.id_number = change["id_number"]
            party.id_hash = id_hash
            party.birth_date = datetime.date.fromisoformat(change["birth_date"])
            party.sex = change["sex"]
            party.save(update_fields=["name", "id_number", "id_hash", "birth_date", "sex"])
        policy.insured_name, policy.insured_id_hash = change["name"], id_hash
        fields += ["insured_name", "insured_id_hash"]
    if kind == EndorsementKind.PLAN:
        policy.plan = Plan.objects.get(version_id=policy.product_version_id, code=change["plan_code"])
        fields.append("plan")
    if kind in (EndorsementKind.PLAN, EndorsementKind.SUM_INSURED):
        if change.get("sum_insured") is not None:
            policy.sum_insured = Decimal(change["sum_insured"])
            fields.append("sum_insured")
        plan = policy.plan
        rows = coverages_of_plans({plan.pk: is_frozen(policy.product_version)})[plan.pk]
        policy.death_benefit = policy_rules.death_benefit(
            (c.code, c.name, policy_rules.scaled_sum(c.sum_insured, plan.max_sum_insured, policy.sum_insured))
            for c in rows
        )
        fields.append("death_benefit")
    if endorsement.quote_id is not None and endorsement.new_premium != endorsement.old_premium:
        policy.premium = endorsement.new_premium
        policy.quote_id = endorsement.quote_id
        fields += ["premium", "quote"]
    elif endorsement.quote_id is not None:
        policy.quote_id = endorsement.quote_id
        fields.append("quote")
    return fields


def _apply(endorsement: Endorsement, policy: Policy, *, actor: Any, now: datetime.datetime) -> None:
    if endorsement.premium_delta < 0:
        _refund(endorsement, policy, -endorsement.premium_delta)
    _replan(endorsement, policy)
    before = current_version(policy)
    fields = _apply_change(endorsement, policy)
    if fields:
        policy.save(update_fields=sorted(set(fields)))
    fresh = (
        Policy.objects.select_related("plan").prefetch_related("parties", "beneficiaries").get(pk=policy.pk)
    )
    version = PolicyVersion.objects.create(
        policy=policy,
        number=before.number + 1,
        valid_from=now,
        endorsement=endorsement,
        snapshot=_dumps(snapshot(fresh)),
    )
    _move(endorsement, E.APPLIED)
    endorsement.version = version.number
    endorsement.effective_at = now
    endorsement.save()
    audit.record(
        "policy.endorsement_applied",
        OBJ_TYPE,
        endorsement.number,
        actor=actor,
        before={
            "policy": policy.number,
            "version": before.number,
            **_masked_change(endorsement.kind, previous_of(endorsement)),
        },
        after={
            "policy": policy.number,
            "version": version.number,
            **_masked_change(endorsement.kind, changes_of(endorsement)),
            "premium_delta": endorsement.premium_delta,
            "refund": endorsement.refund_ref,
            "payment": endorsement.payment_ref,
        },
    )
    link = public_base_url().rstrip("/") + reverse(
        "policy:endorsement", args=[policy.public_id, endorsement.number]
    )
    _notify(
        policy,
        endorsement,
        "policy.endorsement_applied",
        "applied",
        delta=str(endorsement.premium_delta),
        link=link,
    )
    endorsement_applied.announce(
        EndorsementApplied(
            policy=policy,
            endorsement=endorsement,
            premium_delta=endorsement.premium_delta,
            on=timezone.localdate(now),
        )
    )
    # The insurer is told of it as of the policy (批改信息回传), after the commit.
    queued = delivery.queue_endorsement(endorsement, now=now)
    _enqueue_after_commit(endorsement.pk, delivery_id=queued.pk)


def _replan(endorsement: Endorsement, policy: Policy) -> None:
    """A premium change of a policy paid in instalments re-plans its schedule from the day it was
    priced on: what was charged or refunded apart is the endorsement's delta (billing carries to
    the next instalment what an instalment settled meanwhile could not take). A premium that
    steps up by year passes every year's new premium."""
    if endorsement.quote_id is None or endorsement.new_premium == endorsement.old_premium:
        return
    on = _priced_on(endorsement)
    try:
        year_old, year_new, years = _year_pricing(
            policy, endorsement.quote, old=endorsement.old_premium, new=endorsement.new_premium, on=on
        )
        billing.replan_schedule(
            SCHEDULE_KIND,
            policy.number,
            old_annual=year_old,
            new_annual=year_new,
            effective_on=on,
            cause_kind=REFERENCE_KIND,
            cause_id=endorsement.number,
            settled_apart=endorsement.premium_delta,
            new_year_premiums=years,
        )
    except billing_rules.ScheduleError as exc:
        raise Conflict(
            "缴费计划无法按本次变更调整，请联系客服办理",
            code="instalments_not_rerateable",
            errors=[FieldError("kind", "instalments", "缴费计划无法按本次变更调整")],
        ) from exc


def _enqueue_after_commit(endorsement_id: int, *, delivery_id: int) -> None:
    """The 批单's rendering and the insurer delivery, after the commit."""

    def enqueue() -> None:
        from huibao.policy.tasks import deliver_policy, render_endorsement_task

        render_endorsement_task.enqueue(endorsement_id)
        deliver_policy.enqueue(delivery_id)

    transaction.on_commit(enqueue)


def on_endorsement_paid(payment: Payment) -> None:
    """Payment's paid hook (reference kind "endorsement"), inside its transaction: the premium
    delta is in, the change is applied — once, whatever the number of notifications. Paid for a
    change withdrawn or expired meanwhile: the money goes back."""
    locked, policy = _get_locked(payment.reference_id)
    if locked.status == E.AWAITING_PAYMENT and policy.status not in COVERED_STATUSES:
        # the policy left cover while the premium was being paid: nothing applied, money back
        _move(locked, E.EXPIRED)
        locked.save(update_fields=["status", "updated_at"])
        payments.refund(payment, payment.amount, f"保单已不在保障中，批改{locked.number}未生效，退还补缴保费")
        audit.record(
            "policy.endorsement_expired",
            OBJ_TYPE,
            locked.number,
            actor="system",
            after={"why": "not_covered"},
        )
    elif locked.status == E.AWAITING_PAYMENT and locked.payment_ref == str(payment.public_id):
        _apply(locked, policy, actor="system", now=timezone.now())
    elif locked.status in (E.WITHDRAWN, E.EXPIRED):
        # inside the confirming transaction the payment is succeeded: refunded at once
        payments.refund(payment, payment.amount, f"批改{locked.number}已撤销，退还补缴保费")
        audit.record("policy.endorsement_paid_late", OBJ_TYPE, locked.number, actor="system")


# --- the daily sweep ----------------------------------------------------------------------------


def expire_unconfirmed(run_date: datetime.date, *, batch: int = 500) -> int:
    """Endorsements still unconfirmed or unpaid past their deadline as of `run_date` (its last
    instant for a past date, now for today: `jobs.dates.cutoff`): expired. Idempotent (an
    expired one is not open any more); each one in its own transaction, so a run killed
    half-way and run again expires the rest."""
    end = cutoff(run_date)
    done = 0
    while True:
        ids = list(
            Endorsement.objects.filter(
                status__in=(E.REQUESTED, E.AWAITING_CONFIRMATION, E.AWAITING_PAYMENT), confirm_by__lte=end
            )
            .order_by("id")
            .values_list("number", flat=True)[:batch]
        )
        if not ids:
            return done
        for number in ids:
            with transaction.atomic():
                locked, _policy = _get_locked(number)
                if locked.status not in (E.REQUESTED, E.AWAITING_CONFIRMATION, E.AWAITING_PAYMENT):
                    continue
                _move(locked, E.EXPIRED)
                locked.save(update_fields=["status", "updated_at"])
                audit.record("policy.endorsement_expired", OBJ_TYPE, locked.number, actor="system")
                done += 1


# --- reads for pages and the API ----------------------------------------------------------------


def endorsements_of(policy: Policy) -> list[Endorsement]:
    return list(Endorsement.objects.filter(policy=policy).select_related("document").order_by("-sequence"))


def endorsement_for_customer(policy: Policy, number: str) -> Endorsement:
    found = Endorsement.objects.filter(policy=policy, number=number).select_related("document").first()
    if found is None:
        raise NotFound("批改不存在", code="endorsement_not_found")
    return found


def pending_approvals() -> list[Endorsement]:
    return list(
        Endorsement.objects.filter(status=E.PENDING_APPROVAL)
        .select_related("policy", "requested_by")
        .order_by("confirmed_at", "id")
    )


__all__ = [
    "approve_endorsement",
    "confirm_endorsement",
    "current_version",
    "expire_unconfirmed",
    "on_endorsement_paid",
    "policy_data_at",
    "reject_endorsement",
    "request_endorsement",
    "send_confirmation_code",
    "withdraw_endorsement",
]
