"""The sandbox insurer: what an insurer's core system does with the policies the platform sends,
run in-process for development and tests.

It keeps its own tables (`SandboxInsurerPolicy`, `SandboxInsurerEndorsement`,
`SandboxInsurerCancellation`), answers `receive(subject, …)` — `receive_policy` (and
`receive_endorsement` and `receive_cancellation`, for a policy it holds: one intake, the
`Subject` says what differs) — with its reference (a policy number sent twice gets the same
reference: insurers de-duplicate by number), and tells
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from huibao.core.audit import json_safe
from huibao.policy import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import (
    SandboxInsurerBooking,
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


def _channel(name: str, model: type[SandboxInsurerBooking]) -> notifications.Channel:
    return notifications.register(
        notifications.Channel(
            name=name,
            model=model,
            key_field="ref",
            secret=insurer_sandbox_secret,
            headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
            retry_delay=rules.ack_retry_delay,
        )
    )


CHANNEL = _channel("insurer", SandboxInsurerPolicy)
# Endorsements and cancellations (批改, 退保信息回传) are acknowledged like policies, to the same
# callback and with the same key and headers (the platform verifies all with one connector);
# only the record differs.
ENDORSEMENT_CHANNEL = _channel("insurer_endorsement", SandboxInsurerEndorsement)
CANCELLATION_CHANNEL = _channel("insurer_cancellation", SandboxInsurerCancellation)


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


# --- receiving policies, endorsements and cancellations -------------------------------------------


def _random_ref(prefix: str) -> Callable[[str, str, str], str]:
    return lambda insurer_code, number, key: prefix + secrets.token_hex(10).upper()


def _digest_ref(prefix: str) -> Callable[[str, str, str], str]:
    def ref(insurer_code: str, number: str, key: str) -> str:
        return prefix + hashlib.sha256(f"{insurer_code}:{number}:{key}".encode()).hexdigest()[:20].upper()

    return ref


@dataclass(frozen=True, slots=True)
class Subject:
    """What the insurer books, the one thing that differs between its three intakes: the record
    kept (`model`, keyed per insurer by its `SUBJECT_FIELD`, which the payload names too), the
    channel of its acknowledgement, how its reference is made (insurer code, policy number, key)
    and whether it is booked against a policy the insurer holds already."""

    noun: str
    model: type[SandboxInsurerBooking]
    channel: notifications.Channel
    make_ref: Callable[[str, str, str], str]
    of_booked_policy: bool

    @property
    def key_field(self) -> str:
        return self.model.SUBJECT_FIELD


POLICY = Subject("policy", SandboxInsurerPolicy, CHANNEL, _random_ref("SBI"), of_booked_policy=False)
ENDORSEMENT = Subject(
    "endorsement", SandboxInsurerEndorsement, ENDORSEMENT_CHANNEL, _random_ref("SBE"), of_booked_policy=True
)
# A cancellation's reference is derived from it: the same cancellation always gets the same one.
CANCELLATION = Subject(
    "cancellation",
    SandboxInsurerCancellation,
    CANCELLATION_CHANNEL,
    _digest_ref("SBC"),
    of_booked_policy=True,
)


def receive(subject: Subject, payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of `subject`: books it once (the same reference for the same one sent
    again — insurers de-duplicate by number) and owes the platform an acknowledgement naming it;
    an endorsement or a cancellation only of a policy the insurer has booked.

    Raises SandboxUnavailable when the insurer is down, the call "times out" (at random or forced)
    or the policy is not booked yet (the platform tries again later)."""
    insurer_code = str(payload.get("insurer_code", ""))
    number = str(payload.get("policy_number", ""))
    key = str(payload.get(subject.key_field, ""))
    names = list(dict.fromkeys(("insurer_code", "policy_number", subject.key_field)))
    if not insurer_code or not number or not key:
        missing = ", ".join(names[:-1]) + " or " + names[-1]
        raise SandboxUnavailable(f"payload without {missing}", code="bad_request")
    if is_down(insurer_code):
        raise SandboxUnavailable(f"insurer {insurer_code} is down", code="insurer_down")
    if _faults.take():
        raise SandboxUnavailable("sandbox insurer timed out", code="timeout")
    if (
        subject.of_booked_policy
        and not SandboxInsurerPolicy.objects.filter(insurer_code=insurer_code, policy_number=number).exists()
    ):
        # Not booked yet (the issuance is still on its way): the platform tries again later.
        raise SandboxUnavailable(f"policy {number} is not booked at {insurer_code}", code="unknown_policy")
    owe = subject.channel.name
    with transaction.atomic():
        record = (
            subject.model._default_manager.select_for_update()
            .filter(insurer_code=insurer_code, **{subject.key_field: key})
            .first()
        )
        if record is not None:
            if record.acknowledged_at is None:  # the platform is still waiting: tell it again now
                record.next_attempt_at = timezone.now()
                record.save(update_fields=["next_attempt_at"])
                notifications.owe(owe, record.ref)
            return record.ref
        ref = subject.make_ref(insurer_code, number, key)
        notify_id = "A" + secrets.token_hex(16)
        booked: dict[str, Any] = {
            "insurer_code": insurer_code,
            "policy_number": number,
            subject.key_field: key,
        }
        body = {**booked, "notify_id": notify_id, "ref": ref, "status": "accepted", "reason": ""}
        kept = json.dumps(json_safe(dict(payload)), ensure_ascii=False, sort_keys=True)
        record = subject.model(**booked, **{"ref": ref, "payload": kept, "notify_url": callback_url})
        notifications.compose(record, notify_id, body)
        record.save(force_insert=True)
        notifications.owe(owe, record.ref)
    return ref


def received(subject: Subject, ref: str) -> dict[str, Any]:
    """What the insurer holds of the `subject` it booked as `ref` (tests and demos)."""
    record = subject.model._default_manager.filter(ref=ref).first()
    if record is None:
        raise SandboxError(f"no sandbox insurer {subject.noun} '{ref}'")
    data: dict[str, Any] = json.loads(record.payload)
    return data


def receive_policy(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of a policy (承保): books it and owes the platform an acknowledgement."""
    return receive(POLICY, payload, callback_url=callback_url)


def receive_endorsement(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of an endorsement (批改) of a policy it booked."""
    return receive(ENDORSEMENT, payload, callback_url=callback_url)


def receive_cancellation(payload: Mapping[str, Any], *, callback_url: str) -> str:
    """The insurer's intake of a cancellation (退保) of a policy it booked."""
    return receive(CANCELLATION, payload, callback_url=callback_url)


def received_endorsement(ref: str) -> dict[str, Any]:
    return received(ENDORSEMENT, ref)


def received_cancellation(ref: str) -> dict[str, Any]:
    return received(CANCELLATION, ref)


def received_payload(ref: str) -> dict[str, Any]:
    """What the insurer holds for a policy's reference (tests and demos)."""
    return received(POLICY, ref)


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
