"""Telling insurers about issued policies (承保信息回传), applied endorsements (批改信息回传) and
cancellations (退保信息回传): a durable queue with retries.

Each policy has one `InsurerDelivery` of kind "policy", each applied endorsement one of kind
"endorsement" (`queue_endorsement`, in the transaction that applies it), each confirmed
cancellation or surrender one of kind "cancellation" (`queue_cancellation`, in the transaction
that confirms it); every kind goes through the same steps below, the connector's `send_policy`,
`send_endorsement` or `send_cancellation` carrying them.
`deliver` sends it through its connector while holding the delivery's row lock (two workers
never send the same delivery at once):

- sent → `sent`, due again after `rules.ACK_TIMEOUT` if no acknowledgement comes (the policy is
  sent again; insurers de-duplicate by policy number);
- failed → `failed`, due again after an exponential backoff (`rules.retry_delay`), and `gave_up`
  once `max_attempts()` attempts have failed — operators then see it in the back office and
  retry it by hand ("立即重试", `retry_now`);
- sent `max_attempts()` times and still not acknowledged when due again → `gave_up` as well.

`handle_ack` is the one entry for the insurers' acknowledgements: it verifies the signature
(forged → rejected, only a forensic row kept), refuses stale timestamps, treats an id already
processed as a duplicate (nothing changes), then marks the delivery acknowledged in one
transaction with the delivery's row lock. Every status change is written to the audit chain.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.audit import json_safe
from huibao.core.errors import NotFound
from huibao.core.states import check_transition
from huibao.policy import rules
from huibao.policy import schedule as schedule_mod
from huibao.policy.connector import Ack, InsurerConnector, connector_for, get_connector
from huibao.policy.errors import DeliveryFailed, InvalidAck
from huibao.policy.models import Cancellation, Endorsement, InsurerAckReceipt, InsurerDelivery, Policy
from huibao.policy.states import (
    DELIVERY_TRANSITIONS,
    RETRYABLE_DELIVERY_STATUSES,
    CancellationKind,
    DeliveryKind,
    DeliveryStatus,
)

logger = logging.getLogger(__name__)

OBJ_TYPE = "policy"
ENDORSEMENT_OBJ_TYPE = "endorsement"
CANCELLATION_OBJ_TYPE = "cancellation"
ERROR_MAX = 200


def max_attempts() -> int:
    """Attempts before a delivery gives up (settings.HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS, default 8)."""
    return int(getattr(settings, "HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS", rules.DEFAULT_MAX_ATTEMPTS))


def policy_payload(policy: Policy) -> dict[str, Any]:
    """What the insurer receives: the policy's key figures and its full schedule."""
    return json_safe(
        {
            "policy_number": policy.number,
            "insurer_code": policy.insurer.code,
            "product_code": policy.product_version.product.code,
            "product_version": policy.product_version.number,
            "plan_code": policy.plan.code,
            "status": policy.status,
            "channel": policy.channel,
            "premium": policy.premium,
            "sum_insured": policy.sum_insured,
            "effective_at": policy.effective_at,
            "expires_at": policy.expires_at,
            "issued_at": policy.issued_at,
            "schedule": schedule_mod.loads(policy.schedule),
        }
    )


def endorsement_payload(endorsement: Endorsement) -> dict[str, Any]:
    """What the insurer receives of an applied endorsement: which policy, what changed (the new
    values, as the policy now holds them), from when, and the premium after it."""
    policy = endorsement.policy
    return json_safe(
        {
            "endorsement_number": endorsement.number,
            "policy_number": policy.number,
            "insurer_code": policy.insurer.code,
            "product_code": policy.product_version.product.code,
            "kind": endorsement.kind,
            "sequence": endorsement.sequence,
            "policy_version": endorsement.version,
            "changes": json.loads(endorsement.changes or "{}"),
            "effective_at": endorsement.effective_at,
            "old_premium": endorsement.old_premium,
            "new_premium": endorsement.new_premium,
            "premium_delta": endorsement.premium_delta,
            "decided_at": endorsement.decided_at,
        }
    )


def queue_endorsement(endorsement: Endorsement, *, now: datetime.datetime) -> InsurerDelivery:
    """The applied endorsement's delivery to its insurer, in the caller's transaction (the one
    applying it, which enqueues `tasks.deliver_policy` for it after the commit; the sweep
    `retry_due_deliveries` sends it otherwise); one per endorsement (a second call returns the
    first)."""
    policy = endorsement.policy
    existing = InsurerDelivery.objects.filter(endorsement=endorsement).first()
    if existing is not None:
        return existing
    row = InsurerDelivery.objects.create(
        policy=policy,
        kind=DeliveryKind.ENDORSEMENT,
        endorsement=endorsement,
        connector=connector_for(policy.insurer.code),
        next_attempt_at=now,
    )
    audit.record(
        "policy.delivery_queued",
        ENDORSEMENT_OBJ_TYPE,
        endorsement.number,
        actor="system",
        after={"kind": row.kind, "policy": policy.number, "connector": row.connector},
    )
    return row


def cancellation_payload(c: Cancellation) -> dict[str, Any]:
    """What the insurer receives of a confirmed cancellation: which policy, cancelled in
    cooling-off or surrendered, on which day, the refund and the customer's reason."""
    policy = c.policy
    return json_safe(
        {
            "type": "cancellation",
            "cancellation_id": str(c.public_id),
            "policy_number": policy.number,
            "insurer_code": policy.insurer.code,
            "product_code": policy.product_version.product.code,
            "kind": c.kind,
            "method": c.method,
            "cancelled_on": c.request_date,
            "confirmed_at": c.confirmed_at,
            "refund": c.amount,
            "reason": c.reason,
        }
    )


def queue_cancellation(cancellation: Cancellation, *, now: datetime.datetime) -> InsurerDelivery:
    """The confirmed cancellation's delivery to its insurer, in the caller's transaction (the one
    confirming it, which enqueues `tasks.deliver_policy` for it after the commit; the sweep
    `retry_due_deliveries` sends it otherwise); one per cancellation (a second call returns the
    first)."""
    existing = InsurerDelivery.objects.filter(cancellation=cancellation).first()
    if existing is not None:
        return existing
    policy = cancellation.policy
    row = InsurerDelivery.objects.create(
        policy=policy,
        kind=DeliveryKind.CANCELLATION,
        cancellation=cancellation,
        connector=connector_for(policy.insurer.code),
        next_attempt_at=now,
    )
    audit.record(
        "policy.delivery_queued",
        CANCELLATION_OBJ_TYPE,
        str(cancellation.public_id),
        actor="system",
        after={"kind": row.kind, "policy": policy.number, "connector": row.connector},
    )
    return row


def subject_of(delivery: InsurerDelivery) -> tuple[str, str]:
    """The audit object a delivery is about: its policy, its endorsement or its cancellation."""
    if delivery.kind == DeliveryKind.ENDORSEMENT and delivery.endorsement is not None:
        return ENDORSEMENT_OBJ_TYPE, delivery.endorsement.number
    if delivery.kind == DeliveryKind.CANCELLATION and delivery.cancellation is not None:
        return CANCELLATION_OBJ_TYPE, str(delivery.cancellation.public_id)
    return OBJ_TYPE, delivery.policy.number


def reference_of(delivery: InsurerDelivery) -> str:
    """What a delivery is about, as operators read it (the servicing queue, the admin): the
    endorsement's number (批单号); a cancellation's kind and its reference, the id the insurer
    receives and acknowledges (`cancellation_payload`), e.g. "犹豫期退保 3f0c…"; the policy's
    number for the policy itself. Reads only the relations the caller selected."""
    if delivery.kind == DeliveryKind.ENDORSEMENT and delivery.endorsement is not None:
        return delivery.endorsement.number
    if delivery.kind == DeliveryKind.CANCELLATION and delivery.cancellation is not None:
        c = delivery.cancellation
        return f"{CancellationKind(c.kind).label} {c.public_id}"
    return delivery.policy.number


def _send(connector: InsurerConnector, delivery: InsurerDelivery) -> str:
    if delivery.kind == DeliveryKind.ENDORSEMENT:
        assert delivery.endorsement is not None  # the check constraint holds it
        return connector.send_endorsement(endorsement_payload(delivery.endorsement))
    if delivery.kind == DeliveryKind.CANCELLATION:
        assert delivery.cancellation is not None  # the check constraint holds it
        return connector.send_cancellation(cancellation_payload(delivery.cancellation))
    return connector.send_policy(policy_payload(delivery.policy))


def _move(
    delivery: InsurerDelivery, target: str, *, actor: Any, detail: dict[str, Any] | None = None
) -> None:
    check_transition(DELIVERY_TRANSITIONS, delivery.status, target, what="insurer delivery")
    before = delivery.status
    delivery.status = target
    delivery.save()
    obj_type, obj_id = subject_of(delivery)
    audit.record(
        f"policy.delivery_{target}",
        obj_type,
        obj_id,
        actor=actor,
        before={"status": before},
        after={
            "status": target,
            "kind": delivery.kind,
            "connector": delivery.connector,
            "attempts": delivery.attempts,
            "insurer_ref": delivery.insurer_ref,
            "last_error": delivery.last_error,
            "next_attempt_at": delivery.next_attempt_at,
            **(detail or {}),
        },
    )


def deliver(
    delivery_id: int, *, now: datetime.datetime | None = None, force: bool = False, actor: Any = "system"
) -> str:
    """One attempt to send the delivery, if it is due (or `force`); returns its status after."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            InsurerDelivery.objects.select_for_update(of=("self",))
            .select_related(
                "policy__insurer",
                "policy__product_version__product",
                "policy__plan",
                "endorsement",
                "cancellation",
            )
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            raise NotFound(f"no insurer delivery {delivery_id}", code="delivery_not_found")
        if delivery.status == DeliveryStatus.ACKNOWLEDGED:
            return delivery.status
        if not force and (
            delivery.status == DeliveryStatus.GAVE_UP
            or (delivery.next_attempt_at is not None and delivery.next_attempt_at > now)
        ):
            return delivery.status
        if not force and delivery.status == DeliveryStatus.SENT and delivery.attempts >= max_attempts():
            # Sent as often as allowed and never acknowledged: a person must look (the insurer
            # may not have the policy), instead of sending it every ACK_TIMEOUT forever.
            delivery.next_attempt_at = None
            delivery.last_error = f"no_ack: 已发送{delivery.attempts}次，保险公司仍未确认"[:ERROR_MAX]
            _move(delivery, DeliveryStatus.GAVE_UP, actor=actor)
            return delivery.status
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            connector = get_connector(delivery.connector)
            ref = _send(connector, delivery)
        except (DeliveryFailed, InvalidAck) as exc:
            error = f"{exc.code}: {exc.message}"
        except Exception as exc:  # a connector bug must not lose the delivery: retry it
            logger.exception("insurer connector %s failed", delivery.connector)
            error = f"error: {type(exc).__name__}"
        else:
            delivery.insurer_ref = ref[:64]
            delivery.last_error = ""
            delivery.next_attempt_at = now + rules.ACK_TIMEOUT
            _move(delivery, DeliveryStatus.SENT, actor=actor)
            return delivery.status
        delivery.last_error = error[:ERROR_MAX]
        if delivery.attempts >= max_attempts():
            delivery.next_attempt_at = None
            _move(delivery, DeliveryStatus.GAVE_UP, actor=actor)
        else:
            delivery.next_attempt_at = now + rules.retry_delay(delivery.attempts)
            _move(delivery, DeliveryStatus.FAILED, actor=actor)
        return delivery.status


def due_deliveries(now: datetime.datetime) -> list[int]:
    """Deliveries to (re)send now: pending, failed, or sent without acknowledgement, and due."""
    return list(
        InsurerDelivery.objects.filter(
            status__in=RETRYABLE_DELIVERY_STATUSES, next_attempt_at__isnull=False, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)
    )


def retry_now(delivery: InsurerDelivery, *, actor: Any, request: HttpRequest | None = None) -> str:
    """An operator's "立即重试": one attempt now, whatever the schedule or the attempts so far."""
    obj_type, obj_id = subject_of(delivery)
    audit.record(
        "policy.delivery_retry_requested",
        obj_type,
        obj_id,
        actor=actor,
        request=request,
        before={"status": delivery.status, "attempts": delivery.attempts},
    )
    return deliver(delivery.pk, force=True, actor=actor)


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """`acknowledge` tells the view to answer 'success' (the insurer stops retrying)."""

    acknowledge: bool
    code: str
    delivery_id: int | None = None
    message: str = ""


# Refused acknowledgements stored per window, and how much of each body.
INVALID_ACK_WINDOW = datetime.timedelta(minutes=10)
INVALID_ACKS_KEPT_PER_WINDOW = 200
INVALID_ACK_BODY_KEPT = 2_000


def _notify_id_of(headers: Mapping[str, str]) -> str:
    return next((str(v) for k, v in headers.items() if k.lower().endswith("notify-id")), "")


def handle_ack(
    connector_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> AckOutcome:
    now = now or timezone.now()
    try:
        connector = get_connector(connector_name)
        ack = connector.parse_ack(headers, body)
    except InvalidAck as exc:
        # Refused messages are kept as evidence, within a budget: a flood of forged posts must not
        # fill the database (past it they are only counted in the log).
        recent = InsurerAckReceipt.objects.filter(
            signature_ok=False, received_at__gte=now - INVALID_ACK_WINDOW
        ).count()
        if recent < INVALID_ACKS_KEPT_PER_WINDOW:
            InsurerAckReceipt.objects.create(
                connector=connector_name[:32],
                notify_id=_notify_id_of(headers)[:64],
                raw_body=body.decode("utf-8", "replace")[:INVALID_ACK_BODY_KEPT],
                signature_ok=False,
                outcome=exc.code,
            )
        else:
            logger.warning("insurer ack refused (%s) and not stored: over the budget", exc.code)
        return AckOutcome(acknowledge=False, code=exc.code, message=exc.message)
    if rules.is_stale(ack.sent_at, now):
        return AckOutcome(acknowledge=False, code="stale", message="acknowledgement timestamp is stale")
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    receipt = InsurerAckReceipt.objects.create(
                        connector=connector.name,
                        notify_id=ack.notify_id,
                        raw_body=body.decode("utf-8", "replace"),
                        signature_ok=True,
                    )
            except IntegrityError:
                return AckOutcome(acknowledge=True, code="duplicate")
            delivery = _delivery_acknowledged(ack, connector.name)
            if delivery.insurer_ref and ack.insurer_ref != delivery.insurer_ref:
                raise NotFound(
                    f"insurer reference {ack.insurer_ref} is not this delivery's", code="ref_mismatch"
                )
            if delivery.status == DeliveryStatus.ACKNOWLEDGED:
                code = "already_acknowledged"
            elif ack.status == "accepted":
                delivery.insurer_ref = ack.insurer_ref[:64]
                delivery.acknowledged_at = now
                delivery.next_attempt_at = None
                delivery.last_error = ""
                _move(delivery, DeliveryStatus.ACKNOWLEDGED, actor=f"insurer:{connector.name}")
                code = "acknowledged"
            else:
                delivery.insurer_ref = ack.insurer_ref[:64]
                delivery.next_attempt_at = None
                delivery.last_error = f"保险公司拒收：{ack.reason}"[:ERROR_MAX]
                _move(delivery, DeliveryStatus.GAVE_UP, actor=f"insurer:{connector.name}")
                code = "rejected_by_insurer"
            receipt.delivery = delivery
            receipt.outcome = code
            receipt.save(update_fields=["delivery", "outcome"])
            return AckOutcome(acknowledge=True, code=code, delivery_id=delivery.pk)
    except NotFound as exc:
        # Not acknowledged: the receipt rolled back, so a later delivery is processed afresh.
        return AckOutcome(acknowledge=False, code=exc.code, message=exc.message)


def _delivery_acknowledged(ack: Ack, connector_name: str) -> InsurerDelivery:
    """The delivery an acknowledgement is about, locked: the endorsement's or the cancellation's
    when it names one (it must be of the policy it names too), else the policy's own. Raises
    NotFound."""
    rows = InsurerDelivery.objects.select_for_update(of=("self",)).select_related(
        "policy", "endorsement", "cancellation"
    )
    if ack.cancellation_id:
        try:
            cancellation_id = uuid.UUID(ack.cancellation_id)
        except ValueError:
            raise NotFound(f"no cancellation {ack.cancellation_id}", code="unknown_cancellation") from None
        delivery = rows.filter(
            kind=DeliveryKind.CANCELLATION,
            cancellation__public_id=cancellation_id,
            policy__number=ack.policy_number,
            connector=connector_name,
        ).first()
        if delivery is None:
            raise NotFound(f"no delivery of cancellation {ack.cancellation_id}", code="unknown_cancellation")
        return delivery
    if ack.endorsement_number:
        delivery = rows.filter(
            kind=DeliveryKind.ENDORSEMENT,
            endorsement__number=ack.endorsement_number,
            policy__number=ack.policy_number,
            connector=connector_name,
        ).first()
        if delivery is None:
            raise NotFound(f"no delivery of endorsement {ack.endorsement_number}", code="unknown_endorsement")
        return delivery
    delivery = rows.filter(
        kind=DeliveryKind.POLICY, policy__number=ack.policy_number, connector=connector_name
    ).first()
    if delivery is None:
        raise NotFound(f"no delivery of policy {ack.policy_number}", code="unknown_policy")
    return delivery
