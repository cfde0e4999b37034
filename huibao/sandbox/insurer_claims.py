"""The sandbox insurer's claims system: what an insurer does with the claims the platform sends in
connector mode (理赔信息回传), run in-process for development and tests.

It keeps the claim (`SandboxInsurerClaim`, the payload encrypted), answers `receive_claim` with
its reference (a claim number sent again gets the same reference), and tells the platform by
HMAC-SHA256 signed POSTs on the "insurer_claim" channel of `notifications`:

- `received` at once (it has taken the claim);
- `decision` later (`HUIBAO_INSURER_CLAIM_SANDBOX_DELAY` seconds, default 60): most claims are
  approved (the platform's pre-reviewed payable amount, else the amount claimed), some partly
  (60 %), some denied with a reason code and clause; some are slow (decided after 40 days, past
  any promised time). The outcome is drawn from the claim number's digest (stable for a claim),
  or forced with `HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME` = approve | partial | deny | slow;
- `paid` an hour after an approval when the insurer pays the customer itself.

Each notice is retried on the insurer's schedule until the platform answers `success`. Like a
remote system it fails: insurers marked down (`insurer.mark_down`), at a rate
(`HUIBAO_INSURER_CLAIM_SANDBOX_FAILURE_RATE`) and on demand (`CLAIM_FAULTS.force(n)`). A query
(the platform chasing) makes whatever the insurer still owes due now.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import task_backends
from django.utils import timezone

from huibao.core.audit import json_safe
from huibao.policy import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.insurer import (
    HEADER_NOTIFY_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SandboxUnavailable,
    insurer_sandbox_secret,
    is_down,
)
from huibao.sandbox.models import SandboxInsurerClaim, SandboxInsurerClaimNotice

CLAIM_FAULTS = FaultInjector("HUIBAO_INSURER_CLAIM_SANDBOX_FAILURE_RATE")
SLOW_DELAY = datetime.timedelta(days=40)
PAID_AFTER = datetime.timedelta(hours=1)
DENIAL = ("not_covered", "第五条第（二）款", "经审核，本次事故不属于保险责任范围")

CHANNEL = notifications.register(
    notifications.Channel(
        name="insurer_claim",
        model=SandboxInsurerClaimNotice,
        key_field="notify_id",
        secret=insurer_sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.ack_retry_delay,
    )
)


def decision_delay() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(getattr(settings, "HUIBAO_INSURER_CLAIM_SANDBOX_DELAY", 60) or 0))


def _draw(claim_number: str) -> str:
    forced = str(getattr(settings, "HUIBAO_INSURER_CLAIM_SANDBOX_OUTCOME", "") or "")
    if forced in ("approve", "partial", "deny", "slow"):
        return forced
    roll = int(hashlib.sha256(claim_number.encode()).hexdigest()[:8], 16) % 100
    if roll < 65:
        return "approve"
    if roll < 80:
        return "partial"
    if roll < 92:
        return "deny"
    return "slow"


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _approved_amount(payload: Mapping[str, Any]) -> Decimal:
    pre = payload.get("pre_review") or {}
    return _money(pre.get("payable_total")) or _money(payload.get("amount_claimed")) or Decimal("1.00")


def _owe(record: SandboxInsurerClaim, kind: str, body: dict[str, Any], due: datetime.datetime) -> None:
    notice = SandboxInsurerClaimNotice(claim=record, kind=kind, notify_url=record.notify_url)
    notify_id = "C" + secrets.token_hex(16)
    notifications.compose(notice, notify_id, {"notify_id": notify_id, **body}, now=due)
    notice.save(force_insert=True)
    _enqueue_at(notify_id, due)


def _enqueue_at(notify_id: str, due: datetime.datetime) -> None:
    """The delivery at `due`: now, or deferred where the backend can (else the sweep finds it)."""
    from huibao.sandbox.tasks import deliver_notification

    def enqueue() -> None:
        if due <= timezone.now():
            deliver_notification.enqueue(CHANNEL.name, notify_id)
        elif task_backends[deliver_notification.backend].supports_defer:
            deliver_notification.using(run_after=due).enqueue(CHANNEL.name, notify_id)

    transaction.on_commit(enqueue)


def receive_claim(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of a claim: keeps it, owes the platform its notices; returns its
    reference. Raises SandboxUnavailable (down, timed out, bad request: nothing kept)."""
    insurer_code = str(payload.get("insurer_code", ""))
    number = str(payload.get("claim_number", ""))
    if not insurer_code or not number:
        raise SandboxUnavailable("payload without insurer_code or claim_number", code="bad_request")
    if is_down(insurer_code):
        raise SandboxUnavailable(f"insurer {insurer_code} is down", code="insurer_down")
    if CLAIM_FAULTS.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    now = timezone.now()
    with transaction.atomic():
        record = (
            SandboxInsurerClaim.objects.select_for_update()
            .filter(insurer_code=insurer_code, claim_number=number)
            .first()
        )
        if record is not None:  # sent again: the same reference, and its receipt told again now
            _hurry(record, now, kinds=("received",))
            return record.ref
        drawn = _draw(number)
        approved = _approved_amount(payload)
        outcome, amount = drawn, approved
        if drawn == "slow":
            outcome = "approve"
        elif drawn == "partial":
            amount = max(
                (approved * Decimal("0.6")).quantize(Decimal("0.01"), ROUND_HALF_UP), Decimal("0.01")
            )
        record = SandboxInsurerClaim.objects.create(
            insurer_code=insurer_code,
            ref="SBL" + secrets.token_hex(10).upper(),
            claim_number=number,
            payload=json.dumps(json_safe(dict(payload)), ensure_ascii=False, sort_keys=True),
            notify_url=callback_url,
            outcome=outcome,
            amount="" if outcome == "deny" else str(amount),
            insurer_pays=bool(payload.get("insurer_pays")),
        )
        base = {"claim_number": number, "ref": record.ref}
        _owe(record, "received", {**base, "kind": "received"}, now)
        decided_at = now + (SLOW_DELAY if drawn == "slow" else decision_delay())
        decision: dict[str, Any] = {**base, "kind": "decision", "decision": outcome}
        if outcome == "deny":
            decision.update(reason_code=DENIAL[0], clause=DENIAL[1], note=DENIAL[2])
        else:
            decision.update(
                amount=record.amount,
                note="保险公司核定赔付" if outcome == "approve" else "部分费用不在保障范围内",
            )
            if outcome == "partial":
                decision.update(reason_code="uncovered_expenses", clause="第四条")
        _owe(record, "decision", decision, decided_at)
        if record.insurer_pays and outcome != "deny":
            paid = {
                **base,
                "kind": "paid",
                "amount": record.amount,
                "payment_ref": "SBP" + secrets.token_hex(8).upper(),
            }
            _owe(record, "paid", paid, decided_at + PAID_AFTER)
    return record.ref


def _hurry(
    record: SandboxInsurerClaim,
    now: datetime.datetime,
    *,
    kinds: tuple[str, ...] = ("received", "decision", "paid"),
) -> list[str]:
    """What the insurer still owes about `record` (of `kinds`), due now, in order."""
    owed = list(
        record.notices.filter(acknowledged_at__isnull=True, kind__in=kinds)
        .order_by("id")
        .values_list("notify_id", flat=True)
    )
    record.notices.filter(notify_id__in=owed).update(next_attempt_at=now)
    for notify_id in owed:
        _enqueue_at(notify_id, now)
    return owed


def query_claim(claim_number: str, ref: str) -> str:
    """The insurer answering a chase: where the claim stands; what it owes comes now."""
    if CLAIM_FAULTS.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    with transaction.atomic():
        record = SandboxInsurerClaim.objects.select_for_update().filter(claim_number=claim_number).first()
        if record is None or (ref and record.ref != ref):
            return "unknown"
        if is_down(record.insurer_code):
            raise SandboxUnavailable(f"insurer {record.insurer_code} is down", code="insurer_down")
        record.queries += 1
        record.save(update_fields=["queries"])
        done = set(record.notices.filter(acknowledged_at__isnull=False).values_list("kind", flat=True))
        _hurry(record, timezone.now())
    if "paid" in done:
        return "paid"
    if "decision" in done:
        return "decided"
    return "deciding" if "received" in done else "received"


def received_claim(claim_number: str) -> dict[str, Any]:
    """What the insurer holds for a claim (tests and demos)."""
    record = SandboxInsurerClaim.objects.get(claim_number=claim_number)
    data: dict[str, Any] = json.loads(record.payload)
    return data


def owed_notices(claim_number: str) -> list[SandboxInsurerClaimNotice]:
    return list(SandboxInsurerClaimNotice.objects.filter(claim__claim_number=claim_number).order_by("id"))


def deliver_notice(notify_id: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of a notice (see `notifications.deliver`)."""
    return notifications.deliver(CHANNEL.name, notify_id, now=now)
