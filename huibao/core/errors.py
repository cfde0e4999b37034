"""Domain errors: types that carry a code, an HTTP status and the fields they concern.

One place (`huibao.api` for JSON, form helpers for pages) maps them to responses. Messages are
written for the person who made the request and name the field and the rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, errors: list[FieldError] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors: list[FieldError] = list(errors or [])

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "errors": [e.as_dict() for e in self.errors]}


class ValidationFailed(DomainError):
    code = "validation_failed"
    http_status = 422


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429


class InvalidTransition(Conflict):
    code = "invalid_transition"
