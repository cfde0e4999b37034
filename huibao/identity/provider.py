"""The identity ports (real-name registry, face check): their interfaces and adapter registries.

Adapters register themselves (`register_identity_provider`, `register_face_provider`) from their
app's `AppConfig.ready()`: the sandbox services' adapters are the `sandbox` app's.
`settings.IDENTITY_PROVIDER` and `settings.FACE_PROVIDER` name the ones new checks use.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from django.conf import settings

from huibao.core.errors import NotFound
from huibao.identity import rules
from huibao.identity.models import FaceCheck

# What the face notify endpoint answers a notification it has taken (the service stops retrying).
ACK = "success"


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


_IDENTITY_PROVIDERS: dict[str, IdentityProvider] = {}
_FACE_PROVIDERS: dict[str, FaceCheckProvider] = {}


def register_identity_provider(provider: IdentityProvider) -> None:
    """Adds (or replaces) a registry adapter under its name."""
    _IDENTITY_PROVIDERS[provider.name] = provider


def register_face_provider(provider: FaceCheckProvider) -> None:
    """Adds (or replaces) a face-service adapter under its name."""
    _FACE_PROVIDERS[provider.name] = provider


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
    return str(settings.IDENTITY_PROVIDER)


def default_face_provider_name() -> str:
    return str(settings.FACE_PROVIDER)
