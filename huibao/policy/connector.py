"""The insurer-connector interface (承保信息回传) and the sandbox connector.

A connector sends an issued policy to its insurer's system and reads the insurer's signed
acknowledgement, which comes later and asynchronously to `/policy/insurer/ack/<connector>/`.
`SandboxInsurer` talks to the in-process sandbox insurer (`huibao.policy.sandbox`) the way a real
connector talks to a remote insurer: only through `send_policy` (which can time out or be
refused) and the HMAC-SHA256 signed callbacks it verifies.

Which connector serves an insurer: `settings.HUIBAO_INSURER_CONNECTORS` ({insurer code:
connector name}, default "sandbox" for every insurer).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from django.conf import settings
from django.urls import reverse

from huibao.policy import rules, sandbox
from huibao.policy.errors import DeliveryFailed, InvalidAck

AckStatus = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class Ack:
    """A verified acknowledgement: the signature matched; freshness is checked by the service."""

    notify_id: str
    sent_at: datetime.datetime
    policy_number: str
    insurer_ref: str
    status: AckStatus
    reason: str = ""


class InsurerConnector(Protocol):
    name: str

    def send_policy(self, payload: Mapping[str, Any]) -> str:
        """Hands the policy to the insurer; returns the insurer's reference. Raises DeliveryFailed."""
        ...

    def parse_ack(self, headers: Mapping[str, str], body: bytes) -> Ack:
        """Verifies and reads an acknowledgement. Raises InvalidAck."""
        ...


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    raise InvalidAck(f"acknowledgement header {name} is missing", code="missing_header")


def public_url(path: str) -> str:
    base = str(getattr(settings, "HUIBAO_PUBLIC_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000")
    return base.rstrip("/") + path


class SandboxInsurer:
    """The sandbox insurer: stores what it receives, acknowledges later by a signed callback."""

    name = "sandbox"

    def send_policy(self, payload: Mapping[str, Any]) -> str:
        callback = public_url(reverse("policy:insurer_ack", args=[self.name]))
        try:
            return sandbox.receive_policy(payload, callback_url=callback)
        except sandbox.SandboxUnavailable as exc:
            raise DeliveryFailed(str(exc), code=exc.code) from exc

    def parse_ack(self, headers: Mapping[str, str], body: bytes) -> Ack:
        timestamp = _header(headers, sandbox.HEADER_TIMESTAMP)
        notify_id = _header(headers, sandbox.HEADER_NOTIFY_ID)
        signature = _header(headers, sandbox.HEADER_SIGNATURE)
        if not rules.signature_valid(sandbox.insurer_sandbox_secret(), timestamp, notify_id, body, signature):
            raise InvalidAck("acknowledgement signature does not verify", code="bad_signature")
        try:
            data = json.loads(body)
            ack = Ack(
                notify_id=str(data["notify_id"]),
                sent_at=datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC),
                policy_number=str(data["policy_number"]),
                insurer_ref=str(data["ref"]),
                status=data["status"],
                reason=str(data.get("reason", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidAck(f"acknowledgement body is malformed: {exc}", code="malformed") from exc
        if ack.notify_id != notify_id:
            raise InvalidAck("notify_id in the body differs from the header", code="notify_id_mismatch")
        if ack.status not in ("accepted", "rejected"):
            raise InvalidAck(f"unknown acknowledgement status '{ack.status}'", code="malformed")
        return ack


_CONNECTORS: dict[str, InsurerConnector] = {"sandbox": SandboxInsurer()}


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
    configured: Mapping[str, str] = getattr(settings, "HUIBAO_INSURER_CONNECTORS", None) or {}
    return str(configured.get(insurer_code, configured.get("*", "sandbox")))
