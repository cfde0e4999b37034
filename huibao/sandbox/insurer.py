"""The sandbox insurer: what an insurer's core system does with the policies the platform sends,
run in-process for development and tests.

It keeps its own tables (`SandboxInsurerPolicy`, `SandboxInsurerEndorsement`,
`SandboxInsurerCancellation`), answers
`receive_policy` (and `receive_endorsement` and `receive_cancellation`, for a policy it holds,
each acknowledged the same way) with its reference
(a policy number sent twice gets the same reference: insurers de-duplicate by number), and tells
the platform it has booked the policy by an HMAC-SHA256 signed POST to the platform's callback
URL — later, by the one delivery mechanism (channel "insurer" of `notifications`), retried on
`policy.rules.ACK_RETRY_DELAYS` until the platform answers `success`.

Like a remote system it fails: at random (`settings.HUIBAO_INSURER_SANDBOX_FAILURE_RATE`,
0.0–1.0), for insurers marked down (`mark_down(code)`, or `settings.HUIBAO_INSURER_SANDBOX_DOWN`,
a list of insurer codes), and on demand (`force_failures(n)`: the next n calls fail).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from huibao.core.audit import json_safe
from huibao.policy import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import (
    SandboxInsurerCancellation,
    SandboxInsurerEndorsement,
    SandboxInsurerOutage,
    SandboxInsurerPolicy,
)
from huibao.sandbox.notifications import SandboxError

HEADER_TIMESTAMP = "Huibao-Insurer-Timestamp"
HEADER_NOTIFY_ID = "Huibao-Insurer-Notify-Id"
HEADER_SIGNATURE = "Huibao-Insurer-Signature"


class SandboxUnavailable(SandboxError):
    """The insurer did not take the policy (timeout, down)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


# --- configuration and failures -----------------------------------------------------------------


def insurer_sandbox_secret() -> bytes:
    """settings.INSURER_SANDBOX_SECRET, or (development and tests) a key derived from SECRET_KEY."""
    return notifications.derived_secret("INSURER_SANDBOX_SECRET", "insurer-sandbox")


CHANNEL = notifications.register(
    notifications.Channel(
        name="insurer",
        model=SandboxInsurerPolicy,
        key_field="ref",
        secret=insurer_sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.ack_retry_delay,
    )
)

# Endorsements are acknowledged like policies, to the same callback and with the same key and
# headers (the platform verifies both with one connector); only the record differs.
ENDORSEMENT_CHANNEL = notifications.register(
    notifications.Channel(
        name="insurer_endorsement",
        model=SandboxInsurerEndorsement,
        key_field="ref",
        secret=insurer_sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.ack_retry_delay,
    )
)

# Cancellations likewise (退保信息回传).
CANCELLATION_CHANNEL = notifications.register(
    notifications.Channel(
        name="insurer_cancellation",
        model=SandboxInsurerCancellation,
        key_field="ref",
        secret=insurer_sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.ack_retry_delay,
    )
)


_faults = FaultInjector("HUIBAO_INSURER_SANDBOX_FAILURE_RATE")


def failure_rate() -> float:
    return _faults.rate()


def force_failures(count: int) -> None:
    """The next `count` policies sent fail as a timeout would (tests and demos)."""
    _faults.force(count)


def forced_failures_left() -> int:
    return _faults.left()


def mark_down(insurer_code: str, reason: str = "") -> None:
    SandboxInsurerOutage.objects.update_or_create(insurer_code=insurer_code, defaults={"reason": reason})


def mark_up(insurer_code: str) -> None:
    SandboxInsurerOutage.objects.filter(insurer_code=insurer_code).delete()


def is_down(insurer_code: str) -> bool:
    configured = getattr(settings, "HUIBAO_INSURER_SANDBOX_DOWN", None) or ()
    return (
        insurer_code in configured or SandboxInsurerOutage.objects.filter(insurer_code=insurer_code).exists()
    )


# --- receiving policies --------------------------------------------------------------------------


def _schedule_ack(record: SandboxInsurerPolicy) -> None:
    notifications.owe(CHANNEL.name, record.ref)


def receive_policy(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake: books the policy and owes the platform an acknowledgement.

    Raises SandboxUnavailable when the insurer is down or the call "times out"."""
    insurer_code = str(payload.get("insurer_code", ""))
    number = str(payload.get("policy_number", ""))
    if not insurer_code or not number:
        raise SandboxUnavailable("payload without insurer_code or policy_number", code="bad_request")
    if is_down(insurer_code):
        raise SandboxUnavailable(f"insurer {insurer_code} is down", code="insurer_down")
    if _faults.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    with transaction.atomic():
        record = (
            SandboxInsurerPolicy.objects.select_for_update()
            .filter(insurer_code=insurer_code, policy_number=number)
            .first()
        )
        if record is not None:
            if record.acknowledged_at is None:  # the platform is still waiting: tell it again now
                record.next_attempt_at = timezone.now()
                record.save(update_fields=["next_attempt_at"])
                _schedule_ack(record)
            return record.ref
        ref = "SBI" + secrets.token_hex(10).upper()
        notify_id = "A" + secrets.token_hex(16)
        body = {
            "notify_id": notify_id,
            "ref": ref,
            "policy_number": number,
            "insurer_code": insurer_code,
            "status": "accepted",
            "reason": "",
        }
        record = SandboxInsurerPolicy(
            insurer_code=insurer_code,
            ref=ref,
            policy_number=number,
            payload=json.dumps(json_safe(dict(payload)), ensure_ascii=False, sort_keys=True),
            notify_url=callback_url,
        )
        notifications.compose(record, notify_id, body)
        record.save(force_insert=True)
        _schedule_ack(record)
    return ref


def receive_cancellation(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of a cancellation (退保): the policy must be one it booked; books the
    cancellation once (the same reference for the same cancellation sent again) and owes the
    platform an acknowledgement naming it. Fails like `receive_policy` (down, timeouts, forced
    failures)."""
    insurer_code = str(payload.get("insurer_code", ""))
    number = str(payload.get("policy_number", ""))
    cancellation_id = str(payload.get("cancellation_id", ""))
    if not insurer_code or not number or not cancellation_id:
        raise SandboxUnavailable(
            "payload without insurer_code, policy_number or cancellation_id", code="bad_request"
        )
    if is_down(insurer_code):
        raise SandboxUnavailable(f"insurer {insurer_code} is down", code="insurer_down")
    if _faults.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    if not SandboxInsurerPolicy.objects.filter(insurer_code=insurer_code, policy_number=number).exists():
        # Not booked yet (the issuance is still on its way): the platform tries again later.
        raise SandboxUnavailable(f"policy {number} is not booked at {insurer_code}", code="unknown_policy")
    with transaction.atomic():
        record = (
            SandboxInsurerCancellation.objects.select_for_update()
            .filter(insurer_code=insurer_code, cancellation_id=cancellation_id)
            .first()
        )
        if record is not None:
            if record.acknowledged_at is None:
                record.next_attempt_at = timezone.now()
                record.save(update_fields=["next_attempt_at"])
                notifications.owe(CANCELLATION_CHANNEL.name, record.ref)
            return record.ref
        digest = hashlib.sha256(f"{insurer_code}:{number}:{cancellation_id}".encode()).hexdigest()
        ref = "SBC" + digest[:20].upper()
        notify_id = "A" + secrets.token_hex(16)
        body = {
            "notify_id": notify_id,
            "ref": ref,
            "policy_number": number,
            "cancellation_id": cancellation_id,
            "insurer_code": insurer_code,
            "status": "accepted",
            "reason": "",
        }
        record = SandboxInsurerCancellation(
            insurer_code=insurer_code,
            ref=ref,
            policy_number=number,
            cancellation_id=cancellation_id,
            payload=json.dumps(json_safe(dict(payload)), ensure_ascii=False, sort_keys=True),
            notify_url=callback_url,
        )
        notifications.compose(record, notify_id, body)
        record.save(force_insert=True)
        notifications.owe(CANCELLATION_CHANNEL.name, record.ref)
    return ref


def received_cancellation(ref: str) -> dict[str, Any]:
    """What the insurer holds of a cancellation it booked (tests and demos)."""
    record = SandboxInsurerCancellation.objects.filter(ref=ref).first()
    if record is None:
        raise SandboxError(f"no sandbox insurer cancellation '{ref}'")
    data: dict[str, Any] = json.loads(record.payload)
    return data


def receive_endorsement(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of an endorsement (批改): the policy must be one it booked; books the
    endorsement once (the same reference for the same endorsement sent again) and owes the
    platform an acknowledgement naming it. Fails like `receive_policy` (down, timeouts, forced
    failures)."""
    insurer_code = str(payload.get("insurer_code", ""))
    number = str(payload.get("policy_number", ""))
    endorsement_number = str(payload.get("endorsement_number", ""))
    if not insurer_code or not number or not endorsement_number:
        raise SandboxUnavailable(
            "payload without insurer_code, policy_number or endorsement_number", code="bad_request"
        )
    if is_down(insurer_code):
        raise SandboxUnavailable(f"insurer {insurer_code} is down", code="insurer_down")
    if _faults.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    if not SandboxInsurerPolicy.objects.filter(insurer_code=insurer_code, policy_number=number).exists():
        # Not booked yet (the issuance is still on its way): the platform tries again later.
        raise SandboxUnavailable(f"policy {number} is not booked at {insurer_code}", code="unknown_policy")
    with transaction.atomic():
        record = (
            SandboxInsurerEndorsement.objects.select_for_update()
            .filter(insurer_code=insurer_code, endorsement_number=endorsement_number)
            .first()
        )
        if record is not None:
            if record.acknowledged_at is None:
                record.next_attempt_at = timezone.now()
                record.save(update_fields=["next_attempt_at"])
                notifications.owe(ENDORSEMENT_CHANNEL.name, record.ref)
            return record.ref
        ref = "SBE" + secrets.token_hex(10).upper()
        notify_id = "A" + secrets.token_hex(16)
        body = {
            "notify_id": notify_id,
            "ref": ref,
            "policy_number": number,
            "endorsement_number": endorsement_number,
            "insurer_code": insurer_code,
            "status": "accepted",
            "reason": "",
        }
        record = SandboxInsurerEndorsement(
            insurer_code=insurer_code,
            ref=ref,
            policy_number=number,
            endorsement_number=endorsement_number,
            payload=json.dumps(json_safe(dict(payload)), ensure_ascii=False, sort_keys=True),
            notify_url=callback_url,
        )
        notifications.compose(record, notify_id, body)
        record.save(force_insert=True)
        notifications.owe(ENDORSEMENT_CHANNEL.name, record.ref)
    return ref


def received_endorsement(ref: str) -> dict[str, Any]:
    """What the insurer holds of an endorsement it booked (tests and demos)."""
    record = SandboxInsurerEndorsement.objects.filter(ref=ref).first()
    if record is None:
        raise SandboxError(f"no sandbox insurer endorsement '{ref}'")
    data: dict[str, Any] = json.loads(record.payload)
    return data


def get_record(ref: str) -> SandboxInsurerPolicy:
    record = SandboxInsurerPolicy.objects.filter(ref=ref).first()
    if record is None:
        raise SandboxError(f"no sandbox insurer policy '{ref}'")
    return record


def received_payload(ref: str) -> dict[str, Any]:
    """What the insurer holds for a reference (tests and demos)."""
    data: dict[str, Any] = json.loads(get_record(ref).payload)
    return data


# --- acknowledging ----------------------------------------------------------------------------------


def signed_headers(notify_id: str, body: bytes, now: datetime.datetime) -> dict[str, str]:
    return notifications.channel_headers(CHANNEL.name, notify_id, body, now)


def deliver_ack(ref: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of the acknowledgement (see `notifications.deliver`)."""
    return notifications.deliver(CHANNEL.name, ref, now=now)


def deliver_endorsement_ack(ref: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of an endorsement's acknowledgement."""
    return notifications.deliver(ENDORSEMENT_CHANNEL.name, ref, now=now)


def deliver_cancellation_ack(ref: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of a cancellation's acknowledgement."""
    return notifications.deliver(CANCELLATION_CHANNEL.name, ref, now=now)
