"""Payment errors: each carries its code and HTTP status (see huibao.core.errors)."""

from __future__ import annotations

from huibao.core.errors import Conflict, DomainError, ValidationFailed


class InvalidSignature(DomainError):
    """A provider notification whose signature, timestamp or shape does not verify."""

    code = "invalid_signature"
    http_status = 400


class PaymentNotRefundable(Conflict):
    code = "payment_not_refundable"


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"
