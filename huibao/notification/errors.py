"""Notification errors: the SMS port's refusals (shared with account's log-in codes) and the
template and preference errors. Each carries a code the API maps to a response."""

from __future__ import annotations

from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed


class SmsThrottled(DomainError):
    """Another code was asked for too soon (resend throttle, or the gateway's own rate limit)."""

    code = "sms_throttled"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, field: str = "phone") -> None:
        super().__init__(message, errors=[FieldError(field, self.code, message)])
        self.retry_after = retry_after


class SmsDeliveryFailed(DomainError):
    """The gateway did not take the message. `permanent`: trying again cannot help (a bad
    template, an invalid number), so the outbox gives up at once."""

    code = "sms_failed"
    http_status = 503

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False) -> None:
        super().__init__(message, code=code)
        self.permanent = permanent


class UnknownTemplate(ValidationFailed):
    code = "template_unknown"


class TemplateContextMissing(ValidationFailed):
    code = "template_context_missing"


class MessageNotFound(NotFound):
    code = "message_not_found"
