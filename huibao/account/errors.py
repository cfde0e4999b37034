"""Account errors: each carries a stable code the API and the pages map to a message."""

from __future__ import annotations

from huibao.core.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed


class InvalidPhone(ValidationFailed):
    code = "phone_invalid"


class SmsThrottled(DomainError):
    """Another code was asked for too soon (resend throttle, or the gateway's own rate limit)."""

    code = "sms_throttled"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, field: str = "phone") -> None:
        super().__init__(message, errors=[FieldError(field, self.code, message)])
        self.retry_after = retry_after


class SmsDeliveryFailed(DomainError):
    code = "sms_failed"
    http_status = 503


class CodeError(DomainError):
    """Base of the verification-code errors; `field` is the form field they belong to."""

    http_status = 422

    def __init__(self, message: str, *, field: str = "code") -> None:
        super().__init__(message, errors=[FieldError(field, self.code, message)])


class CodeInvalid(CodeError):
    code = "code_invalid"


class CodeExpired(CodeError):
    code = "code_expired"


class TooManyAttempts(CodeError):
    code = "too_many_attempts"
    http_status = 429


class PhoneAlreadyRegistered(Conflict):
    code = "phone_taken"


class InvalidCredentials(DomainError):
    """A log-in through the API was refused (the attempt is counted like one on the log-in page)."""

    code = "invalid_credentials"
    http_status = 401


class InvalidToken(DomainError):
    """Unknown, malformed, expired or revoked bearer token, or its user may no longer log in."""

    code = "invalid_token"
    http_status = 401


class TokenNotFound(NotFound):
    code = "token_not_found"
