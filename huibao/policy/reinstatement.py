"""Reinstatements referred to staff (复效人工核保): when a lapsed policy's health questions are
answered in a way that needs underwriting, the request becomes a work item of the staff
servicing queue instead of a dead end.

- `refer` (called by `premiums.request_reinstatement`) writes the referral — one waiting per
  policy, a retry finds it — audits it and tells the customer it is with an underwriter;
- `approve_referral` lets the customer pay what is owed for that lapse without answering again
  (`premiums.reinstatement_offer` reads the decision: no questions, the checkout opens);
- `decline_referral` (a reason is required) ends online reinstatement for that lapse; the
  customer is told why;
- `close_referrals` closes what is left once the policy is no longer lapsed (reinstated).

Decisions need `policy.decide_reinstatement` (the underwriter's role); a referral made by a
staff member cannot be decided by the same person (four eyes). The health answers are kept
encrypted and shown only on the decision; the audit chain keeps how many needed underwriting,
never which.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.core.states import check_transition
from huibao.notification.catalogue import MessageTemplate, register
from huibao.notification.services import notify
from huibao.policy import queue
from huibao.policy.documents import public_base_url
from huibao.policy.models import Policy, ReinstatementReferral
from huibao.policy.states import REFERRAL_TRANSITIONS, PolicyStatus, ReferralStatus

OBJ_TYPE = "policy"
DECIDE_PERMISSION = "policy.decide_reinstatement"
REASON_MAX = 200
RR = ReferralStatus

TEMPLATES = (
    MessageTemplate(
        code="policy.reinstatement_referred",
        category="service",
        required=("policy_number",),
        title="复效申请已转人工核保",
        body=(
            "您的保单{{ policy_number }}的复效申请，根据您的健康告知需要人工核保。"
            "核保人员会尽快处理，结果将通过站内信通知您。"
        ),
        sms="【汇保】您的保单{{ policy_number }}复效申请已转人工核保，结果将通知您。",
    ),
    MessageTemplate(
        code="policy.reinstatement_approved",
        category="service",
        required=("policy_number", "amount", "link"),
        title="复效申请已通过人工核保",
        body=(
            "您的保单{{ policy_number }}的复效申请已通过人工核保。请补缴欠缴保费{{ amount }}完成复效"
            "（无需再次健康告知）：{{ link }}"
        ),
        email_subject="【汇保】保单{{ policy_number }}复效申请已通过人工核保",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}的复效申请已通过人工核保。"
            "请补缴欠缴保费{{ amount }}完成复效：{{ link }}\n\n汇保"
        ),
        sms="【汇保】您的保单{{ policy_number }}复效申请已通过人工核保，请登录汇保补缴保费完成复效。",
    ),
    MessageTemplate(
        code="policy.reinstatement_declined",
        category="service",
        required=("policy_number", "reason"),
        title="复效申请未通过人工核保",
        body=(
            "很抱歉，您的保单{{ policy_number }}的复效申请未通过人工核保，原因：{{ reason }}。"
            "如有疑问，请联系汇保客服。"
        ),
        sms="【汇保】您的保单{{ policy_number }}复效申请未通过人工核保，详情请登录汇保查看。",
    ),
)


def register_templates() -> None:
    for template in TEMPLATES:
        register(template)


# --- reads ---------------------------------------------------------------------------------------


def referral_for(policy: Policy, lapsed_on: datetime.date | None) -> ReinstatementReferral | None:
    """The latest referral of the policy's current lapse that is not closed, if any."""
    if lapsed_on is None:
        return None
    return (
        ReinstatementReferral.objects.filter(policy=policy, lapsed_on=lapsed_on)
        .exclude(status=RR.CLOSED)
        .order_by("-requested_at", "-id")
        .first()
    )


def waiting() -> QuerySet[ReinstatementReferral]:
    """Referrals waiting for a decision, the oldest first (the servicing queue's section)."""
    return (
        ReinstatementReferral.objects.filter(status=RR.REFERRED)
        .select_related("policy__product_version__product")
        .order_by("requested_at", "id")
    )


def by_public_id(public_id: Any) -> ReinstatementReferral:
    found = ReinstatementReferral.objects.select_related("policy").filter(public_id=str(public_id)).first()
    if found is None:
        raise NotFound("复效申请不存在", code="referral_not_found")
    return found


def answers_of(referral: ReinstatementReferral) -> dict[str, bool]:
    data: dict[str, bool] = json.loads(referral.answers or "{}")
    return data


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    yes: bool


@dataclass(frozen=True, slots=True)
class ReferralRow:
    """A waiting referral as the servicing queue and the staff API show it."""

    public_id: Any
    policy_number: str
    policy_public_id: Any
    product_name: str
    lapsed_on: datetime.date
    amount: Decimal
    flagged: int
    requested_at: datetime.datetime
    answers: tuple[Answer, ...]


def _question_texts(policy: Policy) -> dict[str, str]:
    questions = (policy.product_version.eligibility or {}).get("health_questions") or []
    return {str(q.get("code")): str(q.get("text", "")) for q in questions if isinstance(q, Mapping)}


def row_of(referral: ReinstatementReferral) -> ReferralRow:
    policy = referral.policy
    texts = _question_texts(policy)
    return ReferralRow(
        public_id=referral.public_id,
        policy_number=policy.number,
        policy_public_id=policy.public_id,
        product_name=policy.product_version.product.name,
        lapsed_on=referral.lapsed_on,
        amount=referral.amount,
        flagged=referral.flagged,
        requested_at=referral.requested_at,
        answers=tuple(Answer(texts.get(code, code), yes) for code, yes in answers_of(referral).items()),
    )


def waiting_rows(user: Any, *, limit: int = 100) -> list[ReferralRow]:
    return [row_of(r) for r in waiting()[:limit]]


def waiting_count(user: Any) -> int:
    return ReinstatementReferral.objects.filter(status=RR.REFERRED).count()


def register_queue_section() -> None:
    """The section of the staff servicing queue: the referrals waiting, with approve / decline."""
    queue.register_queue_section(
        "reinstatements",
        label=_("待人工核保的复效申请"),
        order=45,
        rows=waiting_rows,
        count=waiting_count,
        template="policy/staff/partials/reinstatements.html",
        permission=DECIDE_PERMISSION,
    )


# --- use-cases -----------------------------------------------------------------------------------


def _tell(policy: Policy, referral: ReinstatementReferral, template: str, **context: Any) -> None:
    if policy.customer is None:
        return
    notify(
        user=policy.customer,
        template=template,
        context={"policy_number": policy.number, **context},
        dedup_key=f"reinstatement:{referral.public_id}:{referral.status}",
        reference=policy.number,
    )


def refer(
    policy: Policy,
    answers: Mapping[str, Any],
    *,
    flagged: int,
    lapsed_on: datetime.date,
    amount: Decimal,
    user: Any,
    request: HttpRequest | None = None,
    now: datetime.datetime | None = None,
) -> ReinstatementReferral:
    """The referral of the policy's reinstatement to an underwriter, in its own transaction
    (it stays when the caller then refuses the online reinstatement): the one waiting already,
    or a new one, audited, the customer told."""
    now = now or timezone.now()
    existing = ReinstatementReferral.objects.filter(policy=policy, status=RR.REFERRED).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            referral = ReinstatementReferral.objects.create(
                policy=policy,
                lapsed_on=lapsed_on,
                amount=amount,
                answers=json.dumps({str(k): bool(v) for k, v in answers.items()}, sort_keys=True),
                flagged=flagged,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                requested_at=now,
            )
            audit.record(
                "policy.reinstatement_referred",
                OBJ_TYPE,
                policy.number,
                actor=user,
                request=request,
                # how many answers need underwriting, never which (health data stays out of the log)
                after={"referral": referral.public_id, "flagged_answers": flagged, "amount": amount},
            )
            _tell(policy, referral, "policy.reinstatement_referred")
    except IntegrityError:  # a concurrent request wrote it first
        return ReinstatementReferral.objects.get(policy=policy, status=RR.REFERRED)
    return referral


def _locked(referral: ReinstatementReferral) -> ReinstatementReferral:
    locked = (
        ReinstatementReferral.objects.select_for_update(of=("self",))
        .select_related("policy__customer")
        .filter(pk=referral.pk)
        .first()
    )
    if locked is None:
        raise NotFound("复效申请不存在", code="referral_not_found")
    return locked


def _check_decider(referral: ReinstatementReferral, actor: Any) -> None:
    if not (getattr(actor, "is_authenticated", False) and actor.has_perm(DECIDE_PERMISSION)):
        raise PermissionDenied("无复效核保权限", code="not_allowed")
    if referral.requested_by_id is not None and referral.requested_by_id == actor.pk:
        raise PermissionDenied("不能审核本人提交的复效申请（双人复核）", code="four_eyes")


def _move(referral: ReinstatementReferral, target: str) -> None:
    check_transition(REFERRAL_TRANSITIONS, referral.status, target, what="reinstatement referral")
    referral.status = target


def _decide(
    referral: ReinstatementReferral, target: str, *, actor: Any, reason: str, now: datetime.datetime
) -> ReinstatementReferral:
    locked = _locked(referral)
    _check_decider(locked, actor)
    if locked.status != RR.REFERRED:
        label = RR(locked.status).label
        raise Conflict(f"该复效申请已处理（{label}）", code="referral_decided")
    policy = locked.policy
    if policy.status != PolicyStatus.LAPSED:
        raise Conflict(
            f"保单当前状态为“{PolicyStatus(policy.status).label}”，该复效申请无需处理",
            code="policy_not_lapsed",
        )
    before = locked.status
    _move(locked, target)
    locked.decided_by = actor
    locked.decided_at = now
    locked.decision_reason = reason[:REASON_MAX]
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
    audit.record(
        f"policy.reinstatement_{target}",
        OBJ_TYPE,
        policy.number,
        actor=actor,
        before={"status": before},
        after={"referral": locked.public_id, "status": target, "reason": locked.decision_reason},
    )
    return locked


def approve_referral(
    referral: ReinstatementReferral, *, actor: Any, reason: str = "", now: datetime.datetime | None = None
) -> ReinstatementReferral:
    """The underwriter accepts the health answers: the customer may now pay what is owed for
    this lapse to reinstate (no questions again); told with a link to the reinstatement page."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _decide(referral, RR.APPROVED, actor=actor, reason=(reason or "").strip(), now=now)
        link = public_base_url().rstrip("/") + reverse("policy:reinstate", args=[locked.policy.public_id])
        _tell(locked.policy, locked, "policy.reinstatement_approved", amount=f"¥{locked.amount}", link=link)
    return locked


def decline_referral(
    referral: ReinstatementReferral, *, actor: Any, reason: str, now: datetime.datetime | None = None
) -> ReinstatementReferral:
    """The underwriter refuses the reinstatement (a reason is required and told to the customer);
    nothing else changes: the policy stays lapsed."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "请填写不通过的原因", errors=[FieldError("reason", "required", "请填写不通过的原因")]
        )
    with transaction.atomic():
        locked = _decide(referral, RR.DECLINED, actor=actor, reason=reason, now=now)
        _tell(locked.policy, locked, "policy.reinstatement_declined", reason=locked.decision_reason)
    return locked


def close_referrals(policy: Policy, *, actor: Any = "system") -> int:
    """Closes the policy's referrals still waiting or approved once it is no longer lapsed (in
    the caller's transaction); returns how many."""
    rows = list(
        ReinstatementReferral.objects.select_for_update().filter(
            policy=policy, status__in=(RR.REFERRED, RR.APPROVED)
        )
    )
    for row in rows:
        before = row.status
        _move(row, RR.CLOSED)
        row.save(update_fields=["status", "updated_at"])
        audit.record(
            "policy.reinstatement_closed",
            OBJ_TYPE,
            policy.number,
            actor=actor,
            before={"status": before},
            after={"referral": row.public_id, "status": RR.CLOSED, "policy_status": policy.status},
        )
    return len(rows)
