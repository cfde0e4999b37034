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


class TransactionMismatch(Conflict):
    """A verified notification names another gateway transaction than the one the payment recorded
    when its checkout was opened: it is not applied (see `services.handle_notification`)."""

    code = "txn_mismatch"

    def __init__(self, message: str, *, payment_public_id: str, status: str, recorded: str, notified: str):
        super().__init__(message)
        self.payment_public_id = payment_public_id
        self.status = status
        self.recorded = recorded
        self.notified = notified
