"""The customer's messages about their premiums and their policy's status (service messages:
they always reach the in-site inbox; e-mail and SMS as the customer's preferences allow).

Templates are registered in `PolicyConfig.ready` (`register_templates`); the listeners run in
the transaction of what they tell (billing's collection failure, a lifecycle change), and each
message has a stable dedup key, so a re-run of billing's day or of the due reminders never sends
one twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.services import InstalmentEvent
from huibao.billing.states import UNPAID_STATUSES
from huibao.core.money import format_cny
from huibao.notification.catalogue import MessageTemplate, register
from huibao.notification.services import Notice, notify_many, send
from huibao.policy.lifecycle import PolicyStatusChanged, Reason
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus

PAY_NOW = "请登录汇保，在“我的保单”—“保费”中立即缴费。"

TEMPLATES = (
    MessageTemplate(
        code="policy.premium_due",
        category="service",
        required=("policy_number", "product_name", "number", "amount", "due_on"),
        title="保费缴费提醒：{{ product_name }}",
        body=(
            "您的保单{{ policy_number }}第{{ number }}期保费{{ amount }}将于"
            "{{ due_on|date:'Y年n月j日' }}到期，{% if mandate %}届时将从您的代扣账户扣款，请确保余额充足。"
            "{% else %}请按时缴纳。{% endif %}"
        ),
        email_subject="【汇保】保单{{ policy_number }}第{{ number }}期保费即将到期",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}（{{ product_name }}）第{{ number }}期保费"
            "{{ amount }}将于{{ due_on|date:'Y年n月j日' }}到期。\n\n汇保"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}第{{ number }}期保费{{ amount }}"
            "将于{{ due_on|date:'n月j日' }}到期。"
        ),
    ),
    MessageTemplate(
        code="policy.collection_failed",
        category="service",
        required=("policy_number", "number", "amount", "reason"),
        title="保费扣款未成功",
        body=(
            "您的保单{{ policy_number }}第{{ number }}期保费{{ amount }}扣款未成功（{{ reason }}）。"
            "我们会在宽限期内再次尝试扣款，您也可以立即缴费：" + PAY_NOW
        ),
        email_subject="【汇保】保单{{ policy_number }}保费扣款未成功",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}第{{ number }}期保费{{ amount }}扣款未成功"
            "（{{ reason }}）。" + PAY_NOW + "\n\n汇保"
        ),
        sms="【汇保】您的保单{{ policy_number }}第{{ number }}期保费扣款未成功（{{ reason }}），" + PAY_NOW,
    ),
    MessageTemplate(
        code="policy.in_grace",
        category="service",
        required=("policy_number", "grace_until"),
        title="保单进入宽限期",
        body=(
            "您的保单{{ policy_number }}有保费逾期未缴，已进入宽限期。宽限期内保障继续有效；"
            "请于{{ grace_until|date:'Y年n月j日' }}前缴清，逾期保单将失效（效力中止）。" + PAY_NOW
        ),
        email_subject="【汇保】保单{{ policy_number }}已进入宽限期",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}有保费逾期未缴，已进入宽限期，"
            "请于{{ grace_until|date:'Y年n月j日' }}前缴清。" + PAY_NOW + "\n\n汇保"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}已进入宽限期，请于{{ grace_until|date:'n月j日' }}前缴清保费。"
        ),
    ),
    MessageTemplate(
        code="policy.lapsed",
        category="service",
        required=("policy_number", "reinstate_until"),
        title="保单已失效（效力中止）",
        body=(
            "您的保单{{ policy_number }}因宽限期满仍未缴清保费，已失效（效力中止），"
            "失效期间发生的保险事故不予赔付。"
            "您可在{{ reinstate_until|date:'Y年n月j日' }}前申请复效：登录汇保，在“我的保单”—“保费”中办理。"
        ),
        email_subject="【汇保】保单{{ policy_number }}已失效",
        email_body=(
            "尊敬的客户：\n\n您的保单{{ policy_number }}因宽限期满仍未缴清保费，已失效（效力中止）。"
            "您可在{{ reinstate_until|date:'Y年n月j日' }}前申请复效。\n\n汇保"
        ),
        sms=(
            "【汇保】您的保单{{ policy_number }}已失效，"
            "可在{{ reinstate_until|date:'Y年n月j日' }}前申请复效。"
        ),
    ),
    MessageTemplate(
        code="policy.reinstated",
        category="service",
        required=("policy_number",),
        title="保单已复效",
        body="您的保单{{ policy_number }}已复效，保障恢复。感谢您的信任。",
        email_subject="【汇保】保单{{ policy_number }}已复效",
        email_body="尊敬的客户：\n\n您的保单{{ policy_number }}已复效，保障恢复。\n\n汇保",
        sms="【汇保】您的保单{{ policy_number }}已复效，保障恢复。",
    ),
    MessageTemplate(
        code="policy.in_force",
        category="service",
        required=("policy_number", "product_name", "back"),
        title="保单保障中：{{ product_name }}",
        body=(
            "{% if back %}您的保单{{ policy_number }}逾期保费已缴清，保障正常。"
            "{% else %}您的保单{{ policy_number }}已开始生效，保障中。{% endif %}"
        ),
        sms=(
            "【汇保】{% if back %}您的保单{{ policy_number }}逾期保费已缴清，保障正常。"
            "{% else %}您的保单{{ policy_number }}已生效。{% endif %}"
        ),
    ),
)

COLLECTION_REASONS = {
    "insufficient_funds": "账户余额不足",
    "mandate_revoked": "代扣协议已解约",
}


def register_templates() -> None:
    for template in TEMPLATES:
        register(template)


def _product_name(policy: Policy) -> str:
    return policy.product_version.product.name


def _send(policy: Policy, template: str, context: dict[str, Any], dedup_key: str) -> None:
    if policy.customer is None:
        return
    # Inside a daily job's `notification.batched()` the batch's messages are written together.
    send(
        Notice(
            user=policy.customer,
            template=template,
            context=context,
            dedup_key=dedup_key,
            reference=f"policy:{policy.number}",
            category="service",
        )
    )


# Policies a batch already holds (with their customer and product), by number: `known_policies`.
_known: contextvars.ContextVar[Mapping[str, Policy] | None] = contextvars.ContextVar(
    "policy_notices_known", default=None
)


@contextlib.contextmanager
def known_policies(policies: Iterable[Policy]) -> Iterator[None]:
    """Inside the block the listeners take these policies (read by the caller with their
    `customer` and `product_version__product`, and current) instead of reading each again."""
    token = _known.set({p.number: p for p in policies})
    try:
        yield
    finally:
        _known.reset(token)


def _policy(number: str) -> Policy | None:
    known = _known.get()
    if known is not None and number in known:
        return known[number]
    return Policy.objects.select_related("customer", "product_version__product").filter(number=number).first()


def _due_notice(policy: Policy, inst: Instalment) -> Notice | None:
    if policy.customer is None:
        return None
    return Notice(
        user=policy.customer,
        template="policy.premium_due",
        context={
            "policy_number": policy.number,
            "product_name": _product_name(policy),
            "number": inst.number,
            "amount": format_cny(inst.amount),
            "due_on": inst.due_on,
            "mandate": "1" if inst.schedule.mandate_id else "",
        },
        dedup_key=f"policy:premium_due:{inst.public_id}",
        reference=f"policy:{policy.number}",
        category="service",
    )


def send_due_reminder(policy: Policy, inst: Instalment) -> bool:
    """The reminder of one instalment due soon; False when it was sent before (or no customer)."""
    return send_due_reminders([(policy, inst)]) == 1


def send_due_reminders(pairs: Sequence[tuple[Policy, Instalment]]) -> int:
    """The reminders of a batch of instalments due soon (`notify_many`: a few statements for the
    batch); how many instalments were reminded now (not those reminded before, nor those of a
    policy without a customer)."""
    notices = [n for n in (_due_notice(policy, inst) for policy, inst in pairs) if n is not None]
    if not notices:
        return 0
    return len({row.dedup_key for row in notify_many(notices)})


def on_collection_failed(event: InstalmentEvent) -> None:
    """Billing could not collect an instalment: say why and how to pay now (once a day at most:
    one attempt a day)."""
    policy = _policy(event.reference_id)
    if policy is None:
        return
    today = timezone.localdate()
    _send(
        policy,
        "policy.collection_failed",
        {
            "policy_number": policy.number,
            "number": event.number,
            "amount": format_cny(event.amount),
            "reason": COLLECTION_REASONS.get(event.reason, "扣款未成功"),
        },
        f"policy:collection_failed:{event.schedule}:{event.number}:{today:%Y%m%d}",
    )


def _grace_until(policy: Policy) -> datetime.date | None:
    schedule = PremiumSchedule.objects.filter(reference_kind="policy", reference_id=policy.number).first()
    if schedule is None:
        return None
    oldest = schedule.instalments.filter(status__in=UNPAID_STATUSES).order_by("due_on").first()
    return billing_rules.grace_ends(oldest.due_on, schedule.grace_days) if oldest is not None else None


def on_status_changed(event: PolicyStatusChanged) -> None:
    """A lifecycle change the customer is told about: in grace (until when), lapsed, reinstated,
    in force (at the start, or back from grace)."""
    target = event.to_status
    if target not in (
        PolicyStatus.IN_GRACE,
        PolicyStatus.LAPSED,
        PolicyStatus.REINSTATED,
        PolicyStatus.IN_FORCE,
    ):
        return
    if target == PolicyStatus.IN_FORCE and event.reason not in (Reason.START, Reason.OVERDUE_PAID):
        return
    policy = _policy(event.number)
    if policy is None:
        return
    dedup = f"policy:status:{policy.pk}:{target}:{event.at:%Y%m%d%H%M%S}"
    context: dict[str, Any] = {"policy_number": policy.number}
    if target == PolicyStatus.IN_GRACE:
        until = _grace_until(policy)
        if until is None:
            return
        context["grace_until"] = until
        _send(policy, "policy.in_grace", context, dedup)
    elif target == PolicyStatus.LAPSED:
        from huibao.catalog.servicing import servicing_rules

        years = servicing_rules(policy.product_version.servicing).reinstatement.years
        context["reinstate_until"] = billing_rules.reinstatement_until(
            timezone.localtime(event.at).date(), years
        )
        _send(policy, "policy.lapsed", context, dedup)
    elif target == PolicyStatus.REINSTATED:
        _send(policy, "policy.reinstated", context, dedup)
    else:
        context.update(product_name=_product_name(policy), back=event.reason == Reason.OVERDUE_PAID)
        _send(policy, "policy.in_force", context, dedup)
