"""The insurer-connector port (承保/批改/退保信息回传): its interface and the registry of its
adapters.

A connector sends an issued policy or an applied endorsement to its insurer's system and reads
the insurer's signed acknowledgement, which comes later and asynchronously to
`/policy/insurer/ack/<connector>/`.
Adapters register themselves (`register_connector`) from their app's `AppConfig.ready()`: the
sandbox insurer's is the `sandbox` app's.

Which connector serves an insurer: `settings.HUIBAO_INSURER_CONNECTORS` ({insurer code:
connector name}, default "sandbox" for every insurer).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from django.conf import settings

from huibao.policy.errors import InvalidAck

AckStatus = Literal["accepted", "rejected"]
# What the acknowledgement endpoint answers an acknowledgement it has taken.
ACK = "success"


@dataclass(frozen=True, slots=True)
class Ack:
    """A verified acknowledgement: the signature matched; freshness is checked by the service."""

    notify_id: str
    sent_at: datetime.datetime
    policy_number: str
    insurer_ref: str
    status: AckStatus
    reason: str = ""
    # The endorsement acknowledged (批单号); empty when it is the policy itself.
    endorsement_number: str = ""
    # The cancellation acknowledged (its public id); empty unless it is one.
    cancellation_id: str = ""


ClaimNoticeKind = Literal["received", "decision", "paid"]


@dataclass(frozen=True, slots=True)
class ClaimNotice:
    """A verified notice about a claim sent to the insurer (理赔信息回传): it took the claim
    (`received`), decided it (`decision`: approve | partial | deny, the amount, the reason code
    and clause) or paid the customer itself (`paid`: its payment reference and the amount).
    The signature matched; freshness and order are the claim side's business."""

    notify_id: str
    sent_at: datetime.datetime
    kind: ClaimNoticeKind
    claim_number: str
    insurer_ref: str
    decision: str = ""
    amount: str = ""  # a Decimal string (CNY): the approved or the paid amount
    reason_code: str = ""
    clause: str = ""
    note: str = ""
    payment_ref: str = ""


class InsurerConnector(Protocol):
    name: str

    def send_policy(self, payload: Mapping[str, Any]) -> str:
        """Hands the policy to the insurer; returns the insurer's reference. Raises DeliveryFailed."""
        ...

    def send_cancellation(self, payload: Mapping[str, Any]) -> str:
        """Tells the insurer a policy was cancelled or surrendered (退保信息回传); returns the
        insurer's reference of the cancellation (the same one for the same cancellation sent
        again). The insurer acknowledges it later, as it does a policy, naming the cancellation.
        Raises DeliveryFailed."""
        ...

    def send_endorsement(self, payload: Mapping[str, Any]) -> str:
        """Hands an applied endorsement to the insurer (批改信息回传); returns the insurer's
        reference of it (the same one for the same endorsement sent again). The insurer
        acknowledges it later, as it does a policy, naming the endorsement. Raises
        DeliveryFailed."""
        ...

    def parse_ack(self, headers: Mapping[str, str], body: bytes) -> Ack:
        """Verifies and reads an acknowledgement. Raises InvalidAck."""
        ...

    def send_claim(self, payload: Mapping[str, Any], *, callback_url: str) -> str:
        """Hands a claim (its data, materials and the platform's pre-review) to the insurer, which
        decides it in its own system and answers later by signed notices to `callback_url`;
        returns the insurer's reference (the same one for the same claim sent again). Raises
        DeliveryFailed."""
        ...

    def query_claim(self, claim_number: str, insurer_ref: str) -> str:
        """Asks the insurer where a claim stands (a chase, 催办): returns its status in a word
        ("received", "deciding", "decided", "paid", "unknown"); what it owes comes again as
        notices. Raises DeliveryFailed."""
        ...

    def parse_claim_notice(self, headers: Mapping[str, str], body: bytes) -> ClaimNotice:
        """Verifies and reads a claim notice. Raises InvalidAck."""
        ...


def public_url(path: str) -> str:
    base = str(getattr(settings, "HUIBAO_PUBLIC_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000")
    return base.rstrip("/") + path


_CONNECTORS: dict[str, InsurerConnector] = {}


def register_connector(connector: InsurerConnector) -> None:
    """Adds (or replaces) a connector under its name: a real insurer's adapter."""
    _CONNECTORS[connector.name] = connector


def get_connector(name: str) -> InsurerConnector:
    try:
        return _CONNECTORS[name]
    except KeyError:
        raise InvalidAck(f"unknown insurer connector '{name}'", code="unknown_connector") from None


def connector_for(insurer_code: str) -> str:
    """The connector name that serves an insurer (settings.HUIBAO_INSURER_CONNECTORS, else sandbox)."""
    configured: Mapping[str, str] = settings.HUIBAO_INSURER_CONNECTORS or {}
    return str(configured.get(insurer_code, configured.get("*", "sandbox")))
