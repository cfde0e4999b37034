"""The identity-provider interfaces (real-name registry, face check) and their sandbox providers.

The sandbox providers talk to the in-process sandbox services (`huibao.identity.sandbox`) the way
a real provider talks to its remote service: a registry query that may time out, a hosted face
page, and the signed notifications the face service sends back.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from django.conf import settings
from django.urls import reverse

from huibao.core.errors import NotFound
from huibao.identity import rules, sandbox
from huibao.identity.errors import IdentityProviderUnavailable, InvalidSignature
from huibao.identity.models import FaceCheck

HEADER_TIMESTAMP = sandbox.HEADER_TIMESTAMP
HEADER_NOTIFY_ID = sandbox.HEADER_NOTIFY_ID
HEADER_SIGNATURE = sandbox.HEADER_SIGNATURE
face_sandbox_secret = sandbox.face_sandbox_secret


@dataclass(frozen=True, slots=True)
class IdentityAnswer:
    result: Literal["match", "mismatch", "no_record"]
    provider_ref: str


class IdentityProvider(Protocol):
    name: str

    def verify(self, name: str, id_number: str) -> IdentityAnswer:
        """Asks the registry whether `name` is the name registered for `id_number`.

        Raises IdentityProviderUnavailable on a timeout or a failure of the remote service.
        """
        ...


@dataclass(frozen=True, slots=True)
class FaceNotification:
    """A verified face-check result: the signature matched; freshness is checked by the service."""

    notify_id: str
    sent_at: datetime.datetime
    merchant_ref: str
    session_id: str
    result: rules.FaceResult
    reason: str
    liveness_score: int | None
    similarity: int | None


class FaceCheckProvider(Protocol):
    name: str

    def start(self, session: FaceCheck) -> str:
        """Opens the provider's session for the check; returns the hosted page's URL."""
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> FaceNotification:
        """Verifies and parses a notification; raises InvalidSignature."""
        ...


class SandboxIdentityProvider:
    """Sandbox registry: answers by its own table and test rules, and times out on demand."""

    name = "sandbox"

    def verify(self, name: str, id_number: str) -> IdentityAnswer:
        try:
            result, ref = sandbox.registry_check(name, id_number)
        except sandbox.SandboxUnavailable as exc:
            raise IdentityProviderUnavailable(str(exc), code="timeout") from exc
        return IdentityAnswer(result=result, provider_ref=ref)


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    raise InvalidSignature(f"notification header {name} is missing", code="missing_header")


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


class SandboxFaceCheckProvider:
    """Sandbox face service: hosted page, HMAC-SHA256 signed notifications retried until acknowledged."""

    name = "sandbox"

    def start(self, session: FaceCheck) -> str:
        base = settings.HUIBAO_PUBLIC_URL.rstrip("/")
        token = sandbox.open_session(
            merchant_ref=str(session.public_id),
            name=session.name,
            id_number=session.id_number,
            notify_url=base + reverse("identity:face_notify", args=[self.name]),
            return_url=session.return_url,
            expires_at=session.expires_at,
        )
        return base + reverse("identity:sandbox_face", args=[token])

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> FaceNotification:
        timestamp = _header(headers, HEADER_TIMESTAMP)
        notify_id = _header(headers, HEADER_NOTIFY_ID)
        signature = _header(headers, HEADER_SIGNATURE)
        if not rules.signature_valid(face_sandbox_secret(), timestamp, notify_id, body, signature):
            raise InvalidSignature("notification signature does not verify", code="bad_signature")
        try:
            data = json.loads(body)
            notification = FaceNotification(
                notify_id=str(data["notify_id"]),
                sent_at=datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC),
                merchant_ref=str(data["merchant_ref"]),
                session_id=str(data["session_id"]),
                result=data["result"],
                reason=str(data.get("reason") or ""),
                liveness_score=_optional_int(data.get("liveness_score")),
                similarity=_optional_int(data.get("similarity")),
            )
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise InvalidSignature(f"notification body is malformed: {exc}", code="malformed") from exc
        if notification.notify_id != notify_id:
            raise InvalidSignature("notify_id in the body differs from the header", code="notify_id_mismatch")
        if notification.result not in ("passed", "failed", "expired"):
            raise InvalidSignature(f"unknown face result '{notification.result}'", code="malformed")
        if notification.result == "failed" and notification.reason not in ("not_live", "not_same_person"):
            raise InvalidSignature(f"unknown failure reason '{notification.reason}'", code="malformed")
        return notification


_IDENTITY_PROVIDERS: dict[str, IdentityProvider] = {"sandbox": SandboxIdentityProvider()}
_FACE_PROVIDERS: dict[str, FaceCheckProvider] = {"sandbox": SandboxFaceCheckProvider()}


def get_identity_provider(name: str) -> IdentityProvider:
    try:
        return _IDENTITY_PROVIDERS[name]
    except KeyError:
        raise NotFound(f"unknown identity provider '{name}'", code="unknown_provider") from None


def get_face_provider(name: str) -> FaceCheckProvider:
    try:
        return _FACE_PROVIDERS[name]
    except KeyError:
        raise NotFound(f"unknown face provider '{name}'", code="unknown_provider") from None


def default_identity_provider_name() -> str:
    return str(getattr(settings, "IDENTITY_PROVIDER", "sandbox"))


def default_face_provider_name() -> str:
    return str(getattr(settings, "FACE_PROVIDER", "sandbox"))
