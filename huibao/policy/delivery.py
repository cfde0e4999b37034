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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.audit import json_safe
from huibao.core.errors import NotFound
from huibao.core.receipts import keep_refused, notify_id_of
from huibao.core.retrying import ConnectorRetry
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


# Sent: acknowledged later by the insurer, or sent again after ACK_TIMEOUT (insurers de-duplicate);
# failed: again on the exponential back-off; given up after `max_attempts()`.
RETRY = ConnectorRetry(
    sent=DeliveryStatus.SENT,
    failed=DeliveryStatus.FAILED,
    gave_up=DeliveryStatus.GAVE_UP,
    max_attempts=max_attempts,
    retry_delay=rules.retry_delay,
    answer_timeout=rules.ACK_TIMEOUT,
    unanswered="no_ack: 已发送{attempts}次，保险公司仍未确认",
    expected=(DeliveryFailed, InvalidAck),
    failure_log="insurer connector %s failed",
)


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


@dataclass(frozen=True, slots=True)
class Subject:
    """What a delivery tells the insurer about — its policy, an endorsement or a cancellation: the
    one thing that differs between the kinds, which all go through the same steps.

    `field`: the delivery's link to it (None: the policy itself); `obj_type` and `ident`: its audit
    object; `payload` and `send`: what the connector is handed and which of its calls carries it;
    `ack_field`: the `Ack` field naming it (the insurer's acknowledgement of it) and `lookup` how a
    delivery is found by that value (`parse` reads it; ValueError: no such one)."""

    kind: str
    field: str | None
    obj_type: str
    ident: Callable[[Any], str]
    payload: Callable[[Any], dict[str, Any]]
    send: Callable[[InsurerConnector, Mapping[str, Any]], str]
    ack_field: str
    lookup: str
    parse: Callable[[str], Any] = str

    def of(self, delivery: InsurerDelivery) -> Any:
        """The delivery's own subject row, or None (only a policy's delivery has none)."""
        return delivery.policy if self.field is None else getattr(delivery, self.field)


POLICY = Subject(
    kind=DeliveryKind.POLICY,
    field=None,
    obj_type=OBJ_TYPE,
    ident=lambda policy: policy.number,
    payload=policy_payload,
    send=lambda connector, payload: connector.send_policy(payload),
    ack_field="policy_number",
    lookup="policy__number",
)
ENDORSEMENT = Subject(
    kind=DeliveryKind.ENDORSEMENT,
    field="endorsement",
    obj_type=ENDORSEMENT_OBJ_TYPE,
    ident=lambda endorsement: endorsement.number,
    payload=endorsement_payload,
    send=lambda connector, payload: connector.send_endorsement(payload),
    ack_field="endorsement_number",
    lookup="endorsement__number",
)
CANCELLATION = Subject(
    kind=DeliveryKind.CANCELLATION,
    field="cancellation",
    obj_type=CANCELLATION_OBJ_TYPE,
    ident=lambda cancellation: str(cancellation.public_id),
    payload=cancellation_payload,
    send=lambda connector, payload: connector.send_cancellation(payload),
    ack_field="cancellation_id",
    lookup="cancellation__public_id",
    parse=uuid.UUID,
)
SUBJECTS = {subject.kind: subject for subject in (POLICY, ENDORSEMENT, CANCELLATION)}


def _queue(subject: Subject, row: Endorsement | Cancellation, *, now: datetime.datetime) -> InsurerDelivery:
    """The delivery of an endorsement or a cancellation, in the caller's transaction; one per
    subject (a second call returns the first)."""
    assert subject.field is not None  # a policy's delivery is created when it is issued
    existing = InsurerDelivery.objects.filter(**{subject.field: row}).first()
    if existing is not None:
        return existing
    policy = row.policy
    delivery = InsurerDelivery.objects.create(
        policy=policy,
        kind=subject.kind,
        connector=connector_for(policy.insurer.code),
        next_attempt_at=now,
        **{subject.field: row},
    )
    audit.record(
        "policy.delivery_queued",
        subject.obj_type,
        subject.ident(row),
        actor="system",
        after={"kind": delivery.kind, "policy": policy.number, "connector": delivery.connector},
    )
    return delivery


def queue_endorsement(endorsement: Endorsement, *, now: datetime.datetime) -> InsurerDelivery:
    """The applied endorsement's delivery to its insurer, in the caller's transaction (the one
    applying it, which enqueues `tasks.deliver_policy` for it after the commit; the sweep
    `retry_due_deliveries` sends it otherwise); one per endorsement."""
    return _queue(ENDORSEMENT, endorsement, now=now)


def queue_cancellation(cancellation: Cancellation, *, now: datetime.datetime) -> InsurerDelivery:
    """The confirmed cancellation's delivery to its insurer, in the caller's transaction (the one
    confirming it, likewise); one per cancellation."""
    return _queue(CANCELLATION, cancellation, now=now)


def _subject(delivery: InsurerDelivery) -> tuple[Subject, Any]:
    subject = SUBJECTS.get(delivery.kind, POLICY)
    row = subject.of(delivery)
    return (subject, row) if row is not None else (POLICY, delivery.policy)


def subject_of(delivery: InsurerDelivery) -> tuple[str, str]:
    """The audit object a delivery is about: its policy, its endorsement or its cancellation."""
    subject, row = _subject(delivery)
    return subject.obj_type, subject.ident(row)


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
    subject = SUBJECTS[delivery.kind]
    row = subject.of(delivery)
    assert row is not None  # the check constraint holds it
    return subject.send(connector, subject.payload(row))


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
        move = partial(_move, delivery, actor=actor)
        if RETRY.holds(delivery, now=now, force=force, move=move):
            return delivery.status
        connector = delivery.connector
        RETRY.attempt(
            delivery,
            lambda: _send(get_connector(connector), delivery),
            now=now,
            move=move,
            connector=connector,
        )
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
        if not keep_refused(
            InsurerAckReceipt,
            now=now,
            window=INVALID_ACK_WINDOW,
            budget=INVALID_ACKS_KEPT_PER_WINDOW,
            connector=connector_name[:32],
            notify_id=notify_id_of(headers)[:64],
            raw_body=body.decode("utf-8", "replace")[:INVALID_ACK_BODY_KEPT],
            outcome=exc.code,
        ):
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
    """The delivery an acknowledgement is about, locked: the cancellation's or the endorsement's
    when it names one (it must be of the policy it names too), else the policy's own. Raises
    NotFound."""
    subject = next((s for s in (CANCELLATION, ENDORSEMENT) if getattr(ack, s.ack_field)), POLICY)
    key = getattr(ack, subject.ack_field)
    unknown = f"unknown_{subject.obj_type}"
    try:
        value = subject.parse(key)
    except ValueError:
        raise NotFound(f"no {subject.obj_type} {key}", code=unknown) from None
    delivery = (
        InsurerDelivery.objects.select_for_update(of=("self",))
        .select_related("policy", "endorsement", "cancellation")
        .filter(
            **{"policy__number": ack.policy_number, subject.lookup: value},
            kind=subject.kind,
            connector=connector_name,
        )
        .first()
    )
    if delivery is None:
        raise NotFound(f"no delivery of {subject.obj_type} {key}", code=unknown)
    return delivery
