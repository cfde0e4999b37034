"""Identity errors: each carries its code and HTTP status (see huibao.core.errors)."""

from __future__ import annotations

from huibao.core.errors import DomainError


class InvalidSignature(DomainError):
    """A face-provider notification whose signature, headers or shape does not verify."""

    code = "invalid_signature"
    http_status = 400


class IdentityProviderUnavailable(DomainError):
    """The remote registry or face service timed out or failed; the call may be retried."""

    code = "identity_provider_unavailable"
    http_status = 503
