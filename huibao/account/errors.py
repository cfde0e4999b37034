"""Account errors: each carries a stable code the API and the pages map to a message."""

from __future__ import annotations

from huibao.core.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed

# The SMS port's refusals belong to the port (`huibao.notification.sms`); named here as before.
from huibao.notification.errors import SmsDeliveryFailed as SmsDeliveryFailed
from huibao.notification.errors import SmsThrottled as SmsThrottled


class InvalidPhone(ValidationFailed):
    code = "phone_invalid"


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
